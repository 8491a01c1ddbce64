use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;

use super::manifest::{tensor_entries, Manifest, TensorEntry};
use super::LayerStates;
use crate::bayesian::Bayesian;
use crate::error::{Error, Result};
use crate::train::TrainState;

const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub(super) const MANIFEST_FILE: &str = "checkpoint.json";

/// Saves `model`'s full posterior into the directory `dir` (created if needed; a checkpoint
/// already there is replaced): enough to predict with it again after [`load_model`].
///
/// # Errors
/// [`Error::Io`] if the directory or a file cannot be written; [`Error::Checkpoint`] if two
/// stochastic layers report the same path.
pub fn save_model<M: Module + Bayesian>(dir: impl AsRef<Path>, model: &M) -> Result<()> {
    write(dir.as_ref(), model, None, None)
}

/// Saves `model`, the optimizer's state and the training state into the directory `dir`: what
/// [`load`] needs to resume training exactly.
///
/// # Errors
/// As [`save_model`].
pub fn save<M: Module + Bayesian>(
    dir: impl AsRef<Path>,
    model: &M,
    optim: &ModuleOptimizer,
    train: &TrainState,
) -> Result<()> {
    write(dir.as_ref(), model, Some(optim), Some(train))
}

/// Loads the posterior saved in `dir` (by [`save_model`] or [`save`]) into `template`, a model
/// built from the same config as the saved one (its initial values are replaced). The loaded
/// model lives on the template's device.
///
/// # Errors
/// - [`Error::Io`] if `dir` holds no `checkpoint.json` or a file cannot be read;
/// - [`Error::Checkpoint`] naming the field if the checkpoint is unreadable or does not fit the
///   template: a tensor missing on either side or of another shape (another architecture), a
///   stochastic layer missing, of another kind, with another prior family or convolution
///   geometry.
pub fn load_model<M: Module + Bayesian>(dir: impl AsRef<Path>, template: M) -> Result<M> {
    let dir = dir.as_ref();
    let manifest = Manifest::read(dir)?;
    load_posterior(dir, &manifest, template)
}

/// Loads what [`save`] wrote into `template` and `optim` (a freshly built model and optimizer,
/// as at the start of the run), and returns them with the training state to pass to
/// [`train::fit_with_state`](crate::train::fit_with_state).
///
/// # Errors
/// As [`load_model`], and [`Error::Checkpoint`] if the checkpoint was written by
/// [`save_model`] (it holds no optimizer or training state).
pub fn load<M: Module + Bayesian>(
    dir: impl AsRef<Path>,
    template: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer, TrainState)> {
    let dir = dir.as_ref();
    let manifest = Manifest::read(dir)?;
    let train = match (&manifest.train, manifest.optimizer) {
        (Some(train), true) => train.clone(),
        _ => {
            return Err(Error::Checkpoint {
                path: dir.display().to_string(),
                field: "optimizer".into(),
                problem: "this checkpoint holds a model only (written by checkpoint::save_model), no optimizer or \
                          training state"
                    .into(),
                fix: "load it with checkpoint::load_model, or save with checkpoint::save to be able to resume",
            })
        }
    };
    let model = load_posterior(dir, &manifest, template)?;
    let optim = optim.load(dir.join(OPTIMIZER_FILE)).map_err(|e| record_error(dir, OPTIMIZER_FILE, e))?;
    Ok((model, optim, train))
}

fn write<M: Module + Bayesian>(
    dir: &Path,
    model: &M,
    optim: Option<&ModuleOptimizer>,
    train: Option<&TrainState>,
) -> Result<()> {
    let io = |e: std::io::Error, file: &str| Error::Io {
        path: dir.join(file).display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(e, ""))?;
    let mut layers = Vec::new();
    model.collect_layer_states("", &mut layers);
    // Duplicate paths would make the checkpoint ambiguous to load: refuse them now.
    LayerStates::new(dir.display().to_string(), layers.clone())?;
    let manifest = Manifest::new(tensor_entries(model), layers, optim.is_some(), train.cloned());
    // The manifest goes last and the old one first: a directory whose save was interrupted
    // has no checkpoint.json and is not mistaken for a checkpoint.
    match std::fs::remove_file(dir.join(MANIFEST_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e, MANIFEST_FILE)),
        _ => {}
    }
    model.clone().save_file(dir.join(MODEL_FILE)).map_err(|e| record_error(dir, MODEL_FILE, e))?;
    match optim {
        Some(optim) => optim.save(dir.join(OPTIMIZER_FILE)).map_err(|e| record_error(dir, OPTIMIZER_FILE, e))?,
        None => match std::fs::remove_file(dir.join(OPTIMIZER_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e, OPTIMIZER_FILE)),
            _ => {}
        },
    }
    manifest.write(dir)
}

fn load_posterior<M: Module + Bayesian>(dir: &Path, manifest: &Manifest, template: M) -> Result<M> {
    let source = dir.display().to_string();
    check_layout(&source, &manifest.tensors)?;
    check_tensors(&source, &manifest.tensors, &tensor_entries(&template))?;
    let mut states = LayerStates::new(source, manifest.layers.clone())?;
    let template = template.restore_layer_states("", &mut states)?;
    states.finish()?;
    let record = ModuleRecord::load(dir.join(MODEL_FILE)).map_err(|e| record_error(dir, MODEL_FILE, e))?;
    template.try_load_record(record).map_err(|e| record_error(dir, MODEL_FILE, e))
}

/// The tensor names of the variational layers before they held a
/// [`MeanField`](crate::posterior::MeanField) per weight tensor, and their names now.
const OLD_LAYOUT: [(&str, &str); 4] =
    [("weight_mu", "weight.mu"), ("weight_rho", "weight.rho"), ("bias_mu", "bias.mu"), ("bias_rho", "bias.rho")];

/// Rejects a checkpoint written before the variational tensors were renamed (`weight_mu` ->
/// `weight.mu`, ...), naming the first old tensor, instead of reporting it as another
/// architecture.
fn check_layout(source: &str, saved: &[TensorEntry]) -> Result<()> {
    for entry in saved {
        let name = entry.path.rsplit('.').next().unwrap_or(&entry.path);
        if let Some((old, new)) = OLD_LAYOUT.iter().find(|(old, _)| *old == name) {
            return Err(Error::Checkpoint {
                path: source.into(),
                field: entry.path.clone(),
                problem: format!(
                    "the checkpoint has the old tensor layout: `{old}` is now `{new}` (each variational \
                     tensor became a MeanField with `mu` and `rho`)"
                ),
                fix: "convert it by renaming the tensors, whose values need no change: `weight_mu`, `weight_rho`, \
                      `bias_mu`, `bias_rho` become `weight.mu`, `weight.rho`, `bias.mu`, `bias.rho` in model.bpk \
                      (e.g. with burn's `BurnpackStore::with_remap_pattern`, burn feature `store`) and in the \
                      `tensors` paths of checkpoint.json",
            });
        }
    }
    Ok(())
}

/// The first difference between the tensors of the checkpoint and of the template.
fn check_tensors(source: &str, saved: &[TensorEntry], template: &[TensorEntry]) -> Result<()> {
    let fix = "load the checkpoint into a model built from the same config (layer sizes, bias, layer count) \
               as the one that was saved";
    let error =
        |field: &str, problem: String| Error::Checkpoint { path: source.into(), field: field.into(), problem, fix };
    for t in template {
        match saved.iter().find(|s| s.path == t.path) {
            None => {
                return Err(error(&t.path, format!("the model has a {:?} tensor here, the checkpoint none", t.shape)))
            }
            Some(s) if s.shape != t.shape => {
                return Err(error(
                    &t.path,
                    format!("shape differs: the checkpoint has {:?}, the model {:?}", s.shape, t.shape),
                ))
            }
            Some(_) => {}
        }
    }
    match saved.iter().find(|s| !template.iter().any(|t| t.path == s.path)) {
        Some(s) => Err(error(&s.path, format!("the checkpoint has a {:?} tensor here, the model none", s.shape))),
        None => Ok(()),
    }
}

/// burn's record errors, with the file named.
fn record_error(dir: &Path, file: &str, error: burn::store::RecordError) -> Error {
    Error::Checkpoint {
        path: dir.display().to_string(),
        field: file.into(),
        problem: error.to_string(),
        fix: "the file is damaged or was not written by checkpoint::save; save the checkpoint again",
    }
}
