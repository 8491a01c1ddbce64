//! `checkpoint.json`: what burn's record leaves out, and the list of tensors it holds.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::io::MANIFEST_FILE;
use super::LayerState;
use crate::error::{Error, Result};
use crate::train::TrainState;

const FORMAT: &str = "bayesburn-checkpoint";
const VERSION: u32 = 1;

/// A tensor of `model.bpk`: its path in burn's record and its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TensorEntry {
    pub path: String,
    pub shape: Vec<usize>,
}

/// The content of `checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: String,
    version: u32,
    pub tensors: Vec<TensorEntry>,
    pub layers: Vec<LayerState>,
    /// Whether `optimizer.bpk` was written.
    pub optimizer: bool,
    pub train: Option<TrainState>,
}

impl Manifest {
    pub fn new(tensors: Vec<TensorEntry>, layers: Vec<LayerState>, optimizer: bool, train: Option<TrainState>) -> Self {
        Manifest { format: FORMAT.into(), version: VERSION, tensors, layers, optimizer, train }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), message: e.to_string() };
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Checkpoint {
            path: dir.display().to_string(),
            field: MANIFEST_FILE.into(),
            problem: format!("cannot be written: {e}"),
            fix: "report this as a bug",
        })?;
        // Written to a scratch file and renamed, so a reader never sees half a manifest.
        let scratch = dir.join(format!("{MANIFEST_FILE}.tmp"));
        std::fs::write(&scratch, json).map_err(io)?;
        std::fs::rename(&scratch, &path).map_err(io)
    }

    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: format!("{e} (not a checkpoint directory: checkpoint::save writes checkpoint.json there)"),
        })?;
        let bad = |problem: String| Error::Checkpoint {
            path: dir.display().to_string(),
            field: MANIFEST_FILE.into(),
            problem,
            fix: "the file is damaged or was not written by checkpoint::save; save the checkpoint again",
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| bad(format!("is not a valid manifest: {e}")))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            return Err(bad(format!(
                "format {:?} version {}, expected {FORMAT:?} version {VERSION}",
                manifest.format, manifest.version
            )));
        }
        Ok(manifest)
    }
}

/// The path and shape of every parameter of `model`, with the paths burn's record uses.
pub(crate) fn tensor_entries<M: Module>(model: &M) -> Vec<TensorEntry> {
    let mut visitor = Shapes::default();
    model.visit(&mut visitor);
    visitor.out
}

#[derive(Default)]
struct Shapes {
    path: Vec<String>,
    out: Vec<TensorEntry>,
}

impl Shapes {
    fn push(&mut self, shape: burn::tensor::Shape) {
        self.out.push(TensorEntry { path: self.path.join("."), shape: shape.to_vec() });
    }
}

impl ModuleVisitor for Shapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.push(param.lazy_shape());
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.push(param.lazy_shape());
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.push(param.lazy_shape());
    }
}
