//! Image classification data: readers, splits, shifts and out-of-distribution images.
//!
//! - Readers: MNIST's IDX files ([`ImageSet::from_idx`], [`read_idx_images`],
//!   [`read_idx_labels`]) and CSV with one image per line, pixels then label
//!   ([`read_csv_images`] with a [`CsvLayout`], or [`read_csv_images_auto`]); gzip is detected
//!   from the content, so `.gz` files need no flag. [`ImageSet::open`] picks the reader.
//! - [`ImageSet`]: grey-scale images as `f32` in `[0, 1]` (`[N, H, W]` row-major) with `u8`
//!   class labels; [`ImageSet::stratified_split`] keeps the class proportions in train and test,
//!   seeded through [`noise`](crate::noise).
//! - Shifts for robustness studies: [`ImageSet::with_gamma`] (`p^gamma`: `gamma < 1` brightens,
//!   `gamma > 1` darkens) and [`ImageSet::rotated`].
//! - [`ImageSet::uniform_noise`]: images of independent uniform pixels, the classic
//!   out-of-distribution input for a digit classifier.
//! - [`ImageSet::synthetic_digits`]: a procedurally drawn digit-like set, so examples run on a
//!   bare clone without data files.
//!
//! Malformed files give [`Error::MalformedData`](crate::Error::MalformedData) naming the file, the line or byte offset, what
//! was found and what was expected; nothing here panics on file content.
//!
//! ```
//! use bayesburn::data::images::ImageSet;
//!
//! let digits = ImageSet::synthetic_digits(20, 16, 0);
//! let (train, test) = digits.stratified_split(50, 1)?;
//! assert_eq!((train.len(), test.len()), (150, 50));
//! assert_eq!(test.class_counts(), vec![5; 10]);
//! let darker = test.with_gamma(2.0)?;
//! assert!(darker.pixels().iter().zip(test.pixels()).all(|(d, p)| d <= p));
//! # Ok::<(), bayesburn::Error>(())
//! ```

mod csv;
mod idx;
mod set;
mod source;
pub(crate) mod synthetic;

pub use self::csv::{read_csv_images, read_csv_images_auto, CsvLayout};
pub use self::idx::{read_idx_images, read_idx_labels, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
pub use set::ImageSet;
