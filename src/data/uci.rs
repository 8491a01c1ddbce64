//! The UCI regression benchmark's split layout (Hernández-Lobato & Adams 2015, *Probabilistic
//! backpropagation*; used unchanged by Gal & Ghahramani 2016 and Lakshminarayanan et al. 2017).
//!
//! A dataset folder (`<name>/data/`, or `<name>/` holding it) contains:
//!
//! | file | content |
//! | --- | --- |
//! | `data.txt` | one sample per line, whitespace-separated numbers; blank lines are skipped |
//! | `index_features.txt` | 0-based input columns, one per line |
//! | `index_target.txt` | the 0-based target column |
//! | `index_train_<i>.txt`, `index_test_<i>.txt` | 0-based row indices of split `i` (blank lines of `data.txt` not counted); disjoint, together every row |
//! | `n_splits.txt` | number of splits (optional; else the consecutive pairs found) |
//! | `n_hidden.txt`, `n_epochs.txt`, `dropout_rates.txt`, `tau_values.txt` | optional settings and grids of the reference experiments |
//!
//! Every inconsistency is an [`Error::Data`] naming the file, the line and the fix; a missing
//! required file is an [`Error::Io`].
//!
//! ```ignore
//! let data = UciDataset::load("../shared/data/uci/yacht")?;
//! let split = &data.splits[0];
//! let (x, y) = data.rows(&split.train)?;
//! let (x_scale, y_scale) = (Standardizer::fit(&x, data.n_features)?, Standardizer::fit(&y, 1)?);
//! let inner = split.validation();          // first 80 % / last 20 % of the train file
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{DataProblem, Error, Result};

/// Share of each training split used for fitting during a hyper-parameter search; the rest
/// (the end of the train file, in file order) is the validation part, as in Gal's
/// `experiment.py` (`int(0.8 * n)` training rows).
pub const INNER_TRAIN_FRACTION: (usize, usize) = (4, 5);

/// One train/test split: 0-based row indices, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training rows (stored in random-permutation order).
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

impl Split {
    /// The inner split for a hyper-parameter search: the first 80 % of `train` (rounded down,
    /// file order) trains, the last 20 % validates (returned as `test`). The test rows of
    /// `self` never enter it.
    pub fn validation(&self) -> Split {
        let (num, den) = INNER_TRAIN_FRACTION;
        let k = self.train.len() * num / den;
        Split { train: self.train[..k].to_vec(), test: self.train[k..].to_vec() }
    }
}

/// The optional settings of the reference experiments found beside the data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grids {
    /// Hidden units per layer (`n_hidden.txt`).
    pub n_hidden: Option<Vec<usize>>,
    /// Base number of epochs (`n_epochs.txt`).
    pub n_epochs: Option<usize>,
    /// Dropout-rate grid (`dropout_rates.txt`).
    pub dropout_rates: Option<Vec<f64>>,
    /// Grid of the model precision tau in original target units (`tau_values.txt`).
    pub tau_values: Option<Vec<f64>>,
}

/// A regression dataset with its fixed splits.
#[derive(Debug, Clone, PartialEq)]
pub struct UciDataset {
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// Inputs, row-major `[rows, n_features]`, in the order of `index_features.txt`.
    pub x: Vec<f64>,
    /// Targets, `[rows]`.
    pub y: Vec<f64>,
    /// Number of input features.
    pub n_features: usize,
    /// The splits, in file order `0..n_splits`.
    pub splits: Vec<Split>,
    /// Settings and grids, where their files exist.
    pub grids: Grids,
}

impl UciDataset {
    /// Reads a dataset folder: `dir` itself when it holds `data.txt`, else `dir/data`.
    ///
    /// # Errors
    /// [`Error::Io`] for a missing or unreadable required file; [`Error::Data`] for an
    /// unparsable number, a ragged row, a row or column index out of range, a row listed twice
    /// or in both train and test, train and test not covering every row, a file with the wrong
    /// number of values, or `n_splits.txt` disagreeing with the split files.
    pub fn load(dir: impl AsRef<Path>) -> Result<UciDataset> {
        let given = dir.as_ref();
        let dir = if given.join("data.txt").is_file() { given.to_path_buf() } else { given.join("data") };
        let (n_columns, table) = read_matrix(&dir.join("data.txt"))?;
        let rows = table.len() / n_columns;

        let features_path = dir.join("index_features.txt");
        let features = read_values::<usize>(&features_path)?;
        if features.is_empty() {
            return Err(value_count(&features_path, "at least one", 0, "list the 0-based input columns, one per line"));
        }
        check_columns(&features_path, &features, n_columns)?;
        let target_path = dir.join("index_target.txt");
        let target = read_values::<usize>(&target_path)?;
        if target.len() != 1 {
            return Err(value_count(
                &target_path,
                "exactly one",
                target.len(),
                "write the single 0-based target column",
            ));
        }
        check_columns(&target_path, &target, n_columns)?;

        let n_features = features.len();
        let mut x = Vec::with_capacity(rows * n_features);
        let mut y = Vec::with_capacity(rows);
        for r in table.chunks(n_columns) {
            x.extend(features.iter().map(|&(_, c)| r[c]));
            y.push(r[target[0].1]);
        }

        let splits = read_splits(&dir, rows)?;
        let grids = Grids {
            n_hidden: read_optional::<usize>(&dir.join("n_hidden.txt"))?,
            n_epochs: match read_optional::<usize>(&dir.join("n_epochs.txt"))? {
                None => None,
                Some(v) if v.len() == 1 => Some(v[0]),
                Some(v) => {
                    return Err(value_count(&dir.join("n_epochs.txt"), "exactly one", v.len(), "write one epoch count"))
                }
            },
            dropout_rates: read_optional::<f64>(&dir.join("dropout_rates.txt"))?,
            tau_values: read_optional::<f64>(&dir.join("tau_values.txt"))?,
        };
        Ok(UciDataset { dir, x, y, n_features, splits, grids })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// A display name: the folder's name, or its parent's when the folder is called `data`.
    pub fn name(&self) -> String {
        let mut dir = self.dir.as_path();
        if dir.file_name().is_some_and(|n| n == "data") {
            dir = dir.parent().unwrap_or(dir);
        }
        dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
    }

    /// The inputs (row-major `[rows.len(), n_features]`) and targets of the given rows.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a row is out of range (the indices of the
    /// dataset's [`Split`]s never are).
    pub fn rows(&self, rows: &[usize]) -> Result<(Vec<f64>, Vec<f64>)> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.n_rows()) {
            return Err(Error::invalid(
                "UciDataset::rows",
                "row",
                bad,
                "< the number of rows",
                "pass 0-based row indices such as those of the dataset's splits",
            ));
        }
        let d = self.n_features;
        let x = rows.iter().flat_map(|&r| self.x[r * d..(r + 1) * d].iter().copied()).collect();
        Ok((x, rows.iter().map(|&r| self.y[r]).collect()))
    }
}

/// Per-column standardisation with training statistics: `(v - mean) / std`, the population
/// std (numpy's default, as in the reference code), and std 1 for a constant column.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 where a column is constant).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Column statistics of a row-major `[n, columns]` matrix (`columns = 1` for targets).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `columns` is 0, `values` is empty or `columns` does not
    /// divide its length.
    pub fn fit(values: &[f64], columns: usize) -> Result<Standardizer> {
        if columns == 0 || values.is_empty() || !values.len().is_multiple_of(columns) {
            return Err(Error::invalid(
                "Standardizer::fit",
                "values",
                format!("{} values in rows of {columns}", values.len()),
                "a non-empty row-major [n, columns] matrix",
                "pass n >= 1 whole rows and their number of columns",
            ));
        }
        let n = (values.len() / columns) as f64;
        let mut mean = vec![0.0; columns];
        for row in values.chunks(columns) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n);
        }
        let mut var = vec![0.0; columns];
        for row in values.chunks(columns) {
            var.iter_mut().zip(row).zip(&mean).for_each(|((s, v), m)| *s += (v - m).powi(2) / n);
        }
        let std = var.into_iter().map(|v| if v > 0.0 { v.sqrt() } else { 1.0 }).collect();
        Ok(Standardizer { mean, std })
    }

    /// `(v - mean) / std`, column by column.
    pub fn apply(&self, values: &[f64]) -> Vec<f64> {
        let c = self.mean.len();
        values.iter().enumerate().map(|(i, v)| (v - self.mean[i % c]) / self.std[i % c]).collect()
    }

    /// The inverse, `v * std + mean`.
    pub fn invert(&self, values: &[f64]) -> Vec<f64> {
        let c = self.mean.len();
        values.iter().enumerate().map(|(i, v)| v * self.std[i % c] + self.mean[i % c]).collect()
    }
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn value_count(path: &Path, expected: &'static str, got: usize, fix: &'static str) -> Error {
    Error::Data { path: show(path), line: None, problem: DataProblem::ValueCount { expected, got }, fix }
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: show(path),
        message: format!(
            "{e}; pass the dataset folder (holding data.txt, index_features.txt, index_target.txt, \
             index_train_<i>.txt, index_test_<i>.txt) or the folder above its data/"
        ),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count();
        Error::Data {
            path: show(path),
            line: Some(line),
            problem: DataProblem::NotText { offset },
            fix: "the dataset files are plain text, one number per field; replace the file with the original",
        }
    })
}

fn parse<T: FromStr>(path: &Path, line: usize, token: &str, fix: &'static str) -> Result<T> {
    token.parse::<T>().map_err(|_| Error::Data {
        path: show(path),
        line: Some(line),
        problem: DataProblem::Unparsable { token: token.to_string() },
        fix,
    })
}

/// `data.txt`: `(columns, row-major values)`, blank lines skipped, rows of equal length.
fn read_matrix(path: &Path) -> Result<(usize, Vec<f64>)> {
    let text = read_text(path)?;
    let mut columns = 0;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let row: Vec<&str> = line.split_whitespace().collect();
        if row.is_empty() {
            continue;
        }
        if columns == 0 {
            columns = row.len();
        } else if row.len() != columns {
            return Err(Error::Data {
                path: show(path),
                line: Some(i + 1),
                problem: DataProblem::RaggedRow { expected: columns, got: row.len() },
                fix: "give every row the same number of whitespace-separated values",
            });
        }
        for token in row {
            let v: f64 = parse(path, i + 1, token, "write plain decimal numbers (no headers, no missing values)")?;
            if !v.is_finite() {
                return Err(Error::Data {
                    path: show(path),
                    line: Some(i + 1),
                    problem: DataProblem::Unparsable { token: token.to_string() },
                    fix: "remove or impute rows with NaN/inf values",
                });
            }
            values.push(v);
        }
    }
    if columns == 0 {
        return Err(value_count(path, "at least one row of", 0, "fill data.txt with one sample per line"));
    }
    Ok((columns, values))
}

/// Whitespace-separated values with their 1-based line numbers.
fn read_lines<T: FromStr>(path: &Path, text: &str) -> Result<Vec<(usize, T)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for token in line.split_whitespace() {
            out.push((i + 1, parse(path, i + 1, token, "write one 0-based integer index (or one number) per line")?));
        }
    }
    Ok(out)
}

fn read_values<T: FromStr>(path: &Path) -> Result<Vec<(usize, T)>> {
    read_lines(path, &read_text(path)?)
}

fn read_optional<T: FromStr>(path: &Path) -> Result<Option<Vec<T>>> {
    if !path.exists() {
        return Ok(None);
    }
    let values: Vec<T> = read_values(path)?.into_iter().map(|(_, v)| v).collect();
    if values.is_empty() {
        return Err(value_count(path, "at least one", 0, "write the values or delete the empty file"));
    }
    Ok(Some(values))
}

fn check_columns(path: &Path, indices: &[(usize, usize)], columns: usize) -> Result<()> {
    match indices.iter().find(|(_, c)| *c >= columns) {
        None => Ok(()),
        Some(&(line, index)) => Err(Error::Data {
            path: show(path),
            line: Some(line),
            problem: DataProblem::ColumnOutOfRange { index, columns },
            fix: "use 0-based column indices of data.txt",
        }),
    }
}

fn split_paths(dir: &Path, i: usize) -> (PathBuf, PathBuf) {
    (dir.join(format!("index_train_{i}.txt")), dir.join(format!("index_test_{i}.txt")))
}

fn read_splits(dir: &Path, rows: usize) -> Result<Vec<Split>> {
    let found = (0..).take_while(|&i| {
        let (train, test) = split_paths(dir, i);
        train.is_file() && test.is_file()
    });
    let found = found.count();
    let n_splits_path = dir.join("n_splits.txt");
    let declared = match read_optional::<usize>(&n_splits_path)? {
        Some(v) if v.len() == 1 => Some(v[0]),
        Some(v) => return Err(value_count(&n_splits_path, "exactly one", v.len(), "write the number of splits")),
        None => None,
    };
    if let Some(declared) = declared {
        if declared != found {
            return Err(Error::Data {
                path: show(&n_splits_path),
                line: Some(1),
                problem: DataProblem::SplitCount { declared, found },
                fix: "provide index_train_<i>.txt and index_test_<i>.txt for i = 0..n_splits-1 (and no more), \
                      or correct n_splits.txt",
            });
        }
    }
    if found == 0 {
        // Names the first missing file.
        let (train, test) = split_paths(dir, 0);
        read_text(&train)?;
        read_text(&test)?;
    }
    (0..found).map(|i| read_split(dir, i, rows)).collect()
}

fn read_split(dir: &Path, i: usize, rows: usize) -> Result<Split> {
    let (train_path, test_path) = split_paths(dir, i);
    // owner[r]: which file (and line) already lists row r.
    let mut owner: Vec<Option<(bool, usize)>> = vec![None; rows];
    let mut read = |path: &Path, is_train: bool| -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for (line, index) in read_values::<usize>(path)? {
            if index >= rows {
                return Err(Error::Data {
                    path: show(path),
                    line: Some(line),
                    problem: DataProblem::RowOutOfRange { index, rows },
                    fix: "use 0-based row indices into data.txt, blank lines not counted",
                });
            }
            if let Some((was_train, other_line)) = owner[index] {
                let file = if was_train == is_train {
                    "this file".to_string()
                } else {
                    train_path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                };
                return Err(Error::Data {
                    path: show(path),
                    line: Some(line),
                    problem: DataProblem::DuplicateRow { index, other: format!("{file}, line {other_line}") },
                    fix: "each row must be in exactly one of the split's train and test files, once",
                });
            }
            owner[index] = Some((is_train, line));
            out.push(index);
        }
        Ok(out)
    };
    let train = read(&train_path, true)?;
    let test = read(&test_path, false)?;
    let missing: Vec<usize> = owner.iter().enumerate().filter(|(_, o)| o.is_none()).map(|(r, _)| r).collect();
    if let Some(&first) = missing.first() {
        return Err(Error::Data {
            path: format!("{} and {}", show(&train_path), show(&test_path)),
            line: None,
            problem: DataProblem::NotCovered { missing: missing.len(), first },
            fix: "the train and test files of a split must together list every row of data.txt",
        });
    }
    if train.is_empty() || test.is_empty() {
        let path = if train.is_empty() { &train_path } else { &test_path };
        return Err(value_count(path, "at least one", 0, "list the split's rows, one 0-based index per line"));
    }
    Ok(Split { train, test })
}
