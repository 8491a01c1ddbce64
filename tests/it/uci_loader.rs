//! The UCI split-layout loader on small generated folders: a valid layout, and each malformed
//! case giving its typed error (file, line, problem).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bayesburn::data::uci::{Split, Standardizer, UciDataset};
use bayesburn::error::DataProblem;
use bayesburn::Error;

/// A fresh folder under the system temp dir, removed on drop.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A valid 5-row, 3-column dataset with 2 splits, in `<tmp>/<name>/data/`, with `edit`
/// applied to the file map first (`None` removes a file).
fn layout(edit: impl FnOnce(&mut Vec<(&'static str, Option<String>)>)) -> (Folder, PathBuf) {
    let mut files: Vec<(&'static str, Option<String>)> = vec![
        // Tabs and spaces mixed, a trailing blank line as in concrete/yacht.
        ("data.txt", Some("1 10\t100\n2 20 200\n3  30 300\n4 40 400\n5 50 500\n\n".into())),
        ("index_features.txt", Some("0\n1\n".into())),
        ("index_target.txt", Some("2".into())),
        ("index_train_0.txt", Some("4\n0\n1\n2\n".into())),
        ("index_test_0.txt", Some("3\n".into())),
        ("index_train_1.txt", Some("0\n1\n2\n3\n".into())),
        ("index_test_1.txt", Some("4".into())),
        ("n_splits.txt", Some("2\n".into())),
        ("tau_values.txt", Some("0.25\n0.5\n".into())),
        ("n_epochs.txt", Some("40\n".into())),
    ];
    edit(&mut files);
    let root = std::env::temp_dir().join(format!(
        "bayesburn-uci-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let data = root.join("toy").join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, content) in files {
        if let Some(content) = content {
            std::fs::write(data.join(name), content).unwrap();
        }
    }
    (Folder(root), data)
}

fn set(files: &mut [(&'static str, Option<String>)], name: &str, content: Option<&str>) {
    let entry = files.iter_mut().find(|(n, _)| *n == name).expect("known file");
    entry.1 = content.map(str::to_string);
}

fn load_with(name: &'static str, content: Option<&'static str>) -> Result<UciDataset, Error> {
    let (_folder, dir) = layout(|f| set(f, name, content));
    UciDataset::load(&dir)
}

/// The problem, file name and line of an [`Error::Data`].
fn data_error(e: Error) -> (DataProblem, String, Option<usize>) {
    match e {
        Error::Data { path, line, problem, fix } => {
            assert!(!fix.is_empty());
            let file = Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
            (problem, file, line)
        }
        other => panic!("expected Error::Data, got {other:?}"),
    }
}

#[test]
fn a_valid_layout_loads_from_the_dataset_folder_or_its_data_folder() {
    let (_folder, dir) = layout(|_| {});
    let a = UciDataset::load(&dir).unwrap();
    let b = UciDataset::load(dir.parent().unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.name(), "toy");
    assert_eq!(a.n_rows(), 5);
    assert_eq!(a.n_features, 2);
    assert_eq!(a.y, vec![100.0, 200.0, 300.0, 400.0, 500.0]);
    assert_eq!(&a.x[..4], &[1.0, 10.0, 2.0, 20.0]);
    assert_eq!(a.splits.len(), 2);
    assert_eq!(a.splits[0], Split { train: vec![4, 0, 1, 2], test: vec![3] });
    assert_eq!(a.grids.tau_values, Some(vec![0.25, 0.5]));
    assert_eq!(a.grids.n_epochs, Some(40));
    assert_eq!(a.grids.dropout_rates, None);
    let (x, y) = a.rows(&[4, 1]).unwrap();
    assert!(matches!(a.rows(&[5]), Err(Error::InvalidParameter { .. })));
    assert_eq!(x, vec![5.0, 50.0, 2.0, 20.0]);
    assert_eq!(y, vec![500.0, 200.0]);
}

#[test]
fn the_validation_split_is_the_first_80_percent_of_the_train_file_in_order() {
    let split = Split { train: (10..20).rev().collect(), test: vec![0, 1] };
    let inner = split.validation();
    assert_eq!(inner.train, vec![19, 18, 17, 16, 15, 14, 13, 12]);
    assert_eq!(inner.test, vec![11, 10]);
    // int(0.8 * 455) = 364, as in the reference code for the 455 training rows of Boston.
    let boston = Split { train: (0..455).collect(), test: vec![] };
    assert_eq!(boston.validation().train.len(), 364);
}

#[test]
fn standardisation_uses_population_statistics_and_std_one_for_constant_columns() {
    // Columns: [1, 2, 3, 4] (mean 2.5, population var 1.25) and a constant 7.
    let values = [1.0, 7.0, 2.0, 7.0, 3.0, 7.0, 4.0, 7.0];
    let s = Standardizer::fit(&values, 2).unwrap();
    assert!(Standardizer::fit(&values, 3).is_err() && Standardizer::fit(&[], 1).is_err());
    assert_eq!(s.mean, vec![2.5, 7.0]);
    assert!((s.std[0] - 1.25f64.sqrt()).abs() < 1e-15);
    assert_eq!(s.std[1], 1.0);
    let z = s.apply(&values);
    assert_eq!(z[1], 0.0);
    let back = s.invert(&z);
    for (a, b) in back.iter().zip(&values) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    match load_with("index_target.txt", None) {
        Err(Error::Io { path, message }) => {
            assert!(path.ends_with("index_target.txt"), "{path}");
            assert!(message.contains("pass the dataset folder"), "{message}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn an_unparsable_number_names_file_line_and_token() {
    let (p, file, line) = data_error(load_with("data.txt", Some("1 2 3\n4 x 6\n")).unwrap_err());
    assert_eq!(p, DataProblem::Unparsable { token: "x".into() });
    assert_eq!((file.as_str(), line), ("data.txt", Some(2)));
    let (p, file, line) = data_error(load_with("index_train_1.txt", Some("0\n1\n-2\n")).unwrap_err());
    assert_eq!(p, DataProblem::Unparsable { token: "-2".into() });
    assert_eq!((file.as_str(), line), ("index_train_1.txt", Some(3)));
}

#[test]
fn a_ragged_row_is_reported_with_its_line() {
    let ragged = "1 10 100\n\n2 20 200\n3 30\n4 40 400\n5 50 500\n";
    let (p, file, line) = data_error(load_with("data.txt", Some(ragged)).unwrap_err());
    assert_eq!(p, DataProblem::RaggedRow { expected: 3, got: 2 });
    assert_eq!((file.as_str(), line), ("data.txt", Some(4)));
}

#[test]
fn a_row_index_out_of_range_is_reported() {
    let (p, file, line) = data_error(load_with("index_test_0.txt", Some("3\n5\n")).unwrap_err());
    assert_eq!(p, DataProblem::RowOutOfRange { index: 5, rows: 5 });
    assert_eq!((file.as_str(), line), ("index_test_0.txt", Some(2)));
}

#[test]
fn overlapping_train_and_test_are_reported() {
    let (p, file, line) = data_error(load_with("index_test_0.txt", Some("3\n1\n")).unwrap_err());
    assert_eq!(p, DataProblem::DuplicateRow { index: 1, other: "index_train_0.txt, line 3".into() });
    assert_eq!((file.as_str(), line), ("index_test_0.txt", Some(2)));
    // A row twice in the same file.
    let (p, _, line) = data_error(load_with("index_train_0.txt", Some("4\n0\n1\n2\n0\n")).unwrap_err());
    assert_eq!(p, DataProblem::DuplicateRow { index: 0, other: "this file, line 2".into() });
    assert_eq!(line, Some(5));
}

#[test]
fn train_and_test_must_cover_every_row() {
    let (p, _, line) = data_error(load_with("index_train_1.txt", Some("0\n2\n3\n")).unwrap_err());
    assert_eq!(p, DataProblem::NotCovered { missing: 1, first: 1 });
    assert_eq!(line, None);
}

#[test]
fn feature_and_target_columns_must_exist() {
    let (p, file, line) = data_error(load_with("index_features.txt", Some("0\n3\n")).unwrap_err());
    assert_eq!(p, DataProblem::ColumnOutOfRange { index: 3, columns: 3 });
    assert_eq!((file.as_str(), line), ("index_features.txt", Some(2)));
    let (p, file, _) = data_error(load_with("index_target.txt", Some("7")).unwrap_err());
    assert_eq!(p, DataProblem::ColumnOutOfRange { index: 7, columns: 3 });
    assert_eq!(file, "index_target.txt");
    let (p, _, _) = data_error(load_with("index_target.txt", Some("1\n2\n")).unwrap_err());
    assert_eq!(p, DataProblem::ValueCount { expected: "exactly one", got: 2 });
}

#[test]
fn n_splits_must_agree_with_the_split_files() {
    let (p, file, _) = data_error(load_with("n_splits.txt", Some("3")).unwrap_err());
    assert_eq!(p, DataProblem::SplitCount { declared: 3, found: 2 });
    assert_eq!(file, "n_splits.txt");
    // A split whose test file is missing ends the consecutive pairs.
    let (p, _, _) = data_error(load_with("index_test_1.txt", None).unwrap_err());
    assert_eq!(p, DataProblem::SplitCount { declared: 2, found: 1 });
    // Without n_splits.txt the consecutive pairs found are the splits.
    assert_eq!(load_with("n_splits.txt", None).unwrap().splits.len(), 2);
}

#[test]
fn error_messages_name_file_line_problem_and_fix() {
    let text = load_with("index_test_0.txt", Some("3\n9\n")).unwrap_err().to_string();
    assert!(text.contains("index_test_0.txt:2: row index 9 is out of range"), "{text}");
    assert!(text.contains("use 0-based row indices"), "{text}");
}

#[test]
fn a_file_that_is_not_text_is_a_data_error_naming_its_line() {
    // This used to be an `Io` error ("stream did not contain valid UTF-8") that said nothing
    // about where (tests/it/fuzz_readers.rs writes such files).
    let (_folder, dir) = layout(|_| {});
    std::fs::write(dir.join("data.txt"), b"1 10 100\n2 20 \xff00\n").unwrap();
    let err = UciDataset::load(&dir).unwrap_err();
    println!("{err}");
    let (problem, file, line) = data_error(err);
    assert_eq!((problem, file.as_str(), line), (DataProblem::NotText { offset: 14 }, "data.txt", Some(2)));
}
