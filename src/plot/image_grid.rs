//! A grid of small grey-scale images with captions, in labelled groups (e.g. a classifier's
//! most and least certain test digits).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{draw_err, ensure_font, save_figure, Figure, FONT, LABEL_SIZE, TITLE_SIZE};
use crate::error::{Error, Result};

const MARGIN: i32 = 12;
const TITLE_BAND: i32 = 34;
const GROUP_BAND: i32 = 26;
const CAPTION_LINE: i32 = 15;
const GAP: i32 = 14;
const CAPTION_SIZE: f64 = 12.0;

/// One image of an [`ImageGrid`] with two caption lines under it.
#[derive(Debug, Clone, PartialEq)]
pub struct GridTile {
    /// Pixel intensities, `[height * width]` row-major, in `[0, 1]`; 0 is drawn white
    /// (background), 1 black (ink).
    pub pixels: Vec<f64>,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// First caption line (e.g. the label and the prediction).
    pub caption: String,
    /// Second caption line (e.g. the uncertainties).
    pub subcaption: String,
}

/// Small images in labelled groups, `columns` per row, each group starting a new row under its
/// label (an empty label takes no room; nor do the caption lines when no tile has a caption). Every tile is drawn `tile_size` pixels on its longer side, each image pixel a filled
/// square (no smoothing), so the pixels the model saw are the pixels shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    /// Title.
    pub title: String,
    /// Tiles per row (>= 1).
    pub columns: usize,
    /// `(label, tiles)` in drawing order.
    pub groups: Vec<(String, Vec<GridTile>)>,
    /// Side of a tile in output pixels (default 112).
    pub tile_size: u32,
}

impl ImageGrid {
    /// An empty grid with `columns` tiles per row.
    pub fn new(title: impl Into<String>, columns: usize) -> Self {
        Self { title: title.into(), columns, groups: Vec::new(), tile_size: 112 }
    }

    /// Adds a group of tiles under `label`.
    pub fn with_group(mut self, label: impl Into<String>, tiles: Vec<GridTile>) -> Self {
        self.groups.push((label.into(), tiles));
        self
    }

    /// Sets the side of a tile in output pixels.
    pub fn with_tile_size(mut self, tile_size: u32) -> Self {
        self.tile_size = tile_size;
        self
    }

    /// Checks `columns >= 1`, `tile_size >= 16`, at least one tile, and every tile's pixel
    /// count (`ShapeMismatch`) and values (finite, in `[0, 1]`; `InvalidParameter`).
    pub fn validate(&self) -> Result<()> {
        const C: &str = "ImageGrid";
        crate::error::check_nonzero(C, "columns", self.columns, "use e.g. 8 tiles per row")?;
        if self.tile_size < 16 {
            return Err(Error::invalid(C, "tile_size", self.tile_size, ">= 16", "use e.g. 112 pixels per tile"));
        }
        if self.groups.iter().all(|(_, t)| t.is_empty()) {
            return Err(Error::invalid(C, "groups", "no tiles", "at least one tile", "add a group with tiles"));
        }
        for (label, tiles) in &self.groups {
            for (i, t) in tiles.iter().enumerate() {
                if t.height == 0 || t.width == 0 || t.pixels.len() != t.height * t.width {
                    return Err(Error::shape(
                        C,
                        "pixels",
                        format!(
                            "[{} * {}] (height * width, >= 1 each) in group {label:?}, tile {i}",
                            t.height, t.width
                        ),
                        &[t.pixels.len()],
                        "pass one value per pixel, row-major",
                    ));
                }
                if let Some(p) = t.pixels.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                    let value = format!("{p} in group {label:?}, tile {i}");
                    return Err(Error::invalid(C, "pixels", value, "in [0, 1]", "scale intensities into [0, 1]"));
                }
            }
        }
        Ok(())
    }

    fn rows(&self, tiles: usize) -> i32 {
        tiles.div_ceil(self.columns) as i32
    }

    /// Width and height of one tile with its captions and gap; captions take no room when no
    /// tile has any.
    fn cell(&self) -> (i32, i32) {
        let captioned =
            self.groups.iter().flat_map(|(_, t)| t).any(|t| !t.caption.is_empty() || !t.subcaption.is_empty());
        let captions = if captioned { 2 * CAPTION_LINE } else { 0 };
        (self.tile_size as i32 + GAP, self.tile_size as i32 + captions + GAP)
    }

    /// Height of a group's label band (none for an empty label).
    fn band(label: &str) -> i32 {
        if label.is_empty() {
            0
        } else {
            GROUP_BAND
        }
    }

    /// The image size in pixels (width, height) that fits the grid exactly.
    pub fn size(&self) -> (u32, u32) {
        let (cw, ch) = self.cell();
        let height = self.groups.iter().map(|(l, t)| Self::band(l) + self.rows(t.len()) * ch).sum::<i32>();
        let width = 2 * MARGIN + self.columns as i32 * cw;
        (width.max(1) as u32, (2 * MARGIN + TITLE_BAND + height).max(1) as u32)
    }

    /// Draws the grid into `area`, from its top-left corner (at [`size`](Self::size) it fills
    /// the area).
    ///
    /// # Errors
    /// What [`validate`](Self::validate) reports, or [`Error::Io`] if plotters fails to draw.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        self.validate()?;
        ensure_font()?;
        let left = TextStyle::from((FONT, TITLE_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        let group_style = TextStyle::from((FONT, LABEL_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        let caption = TextStyle::from((FONT, CAPTION_SIZE).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(&self.title, &left, (MARGIN, MARGIN)).map_err(draw_err)?;
        let (cw, ch) = self.cell();
        let side = self.tile_size as i32;
        let mut y = MARGIN + TITLE_BAND;
        for (label, tiles) in &self.groups {
            if !label.is_empty() {
                area.draw_text(label, &group_style, (MARGIN, y + 4)).map_err(draw_err)?;
            }
            y += Self::band(label);
            for (i, t) in tiles.iter().enumerate() {
                let (col, row) = ((i % self.columns) as i32, (i / self.columns) as i32);
                let (x0, y0) = (MARGIN + GAP / 2 + col * cw, y + row * ch);
                let px = (side as f64 / t.height.max(t.width) as f64).max(1.0);
                let frame = [(x0 - 1, y0 - 1), (x0 + side, y0 + side)];
                area.draw(&Rectangle::new(frame, RGBColor(200, 200, 200))).map_err(draw_err)?;
                for r in 0..t.height {
                    for c in 0..t.width {
                        let v = t.pixels[r * t.width + c];
                        if v <= 0.0 {
                            continue; // the background is already white
                        }
                        let grey = (255.0 * (1.0 - v)).round() as u8;
                        let (a, b) = ((c as f64 * px) as i32, (r as f64 * px) as i32);
                        let (a1, b1) = (((c + 1) as f64 * px) as i32, ((r + 1) as f64 * px) as i32);
                        let cell = [(x0 + a, y0 + b), (x0 + a1, y0 + b1)];
                        area.draw(&Rectangle::new(cell, RGBColor(grey, grey, grey).filled())).map_err(draw_err)?;
                    }
                }
                let cx = x0 + side / 2;
                area.draw_text(&t.caption, &caption, (cx, y0 + side + 2)).map_err(draw_err)?;
                area.draw_text(&t.subcaption, &caption, (cx, y0 + side + 2 + CAPTION_LINE)).map_err(draw_err)?;
            }
            y += self.rows(tiles.len()) * ch;
        }
        Ok(())
    }

    /// Writes the grid to `path` (`.png` or `.svg`) at [`size`](Self::size).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown extension or a grid larger than 8192 pixels
    /// on a side, what [`validate`](Self::validate) reports, [`Error::Io`] if drawing or
    /// writing fails.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.validate()?;
        save_figure(path.as_ref(), self.size(), "ImageGrid", self)
    }
}

impl Figure for ImageGrid {
    fn draw_figure<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.draw(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(pixels: Vec<f64>, height: usize, width: usize) -> GridTile {
        GridTile { pixels, height, width, caption: String::from("a"), subcaption: String::from("b") }
    }

    #[test]
    fn size_fits_groups_and_rows() {
        let grid = ImageGrid::new("t", 3)
            .with_tile_size(20)
            .with_group("one", vec![tile(vec![0.0; 4], 2, 2); 4])
            .with_group("two", vec![tile(vec![1.0; 4], 2, 2)]);
        // Group one: 2 rows, group two: 1 row; a cell is 20 + 14 wide, 20 + 30 + 14 high.
        let (w, h) = grid.size();
        assert_eq!(w as i32, 2 * MARGIN + 3 * 34);
        assert_eq!(h as i32, 2 * MARGIN + TITLE_BAND + 2 * GROUP_BAND + 3 * 64);
    }

    #[test]
    fn no_captions_and_no_label_take_no_room() {
        let bare = GridTile { caption: String::new(), subcaption: String::new(), ..tile(vec![0.0; 4], 2, 2) };
        let grid = ImageGrid::new("t", 2).with_tile_size(20).with_group("", vec![bare; 2]);
        assert_eq!(grid.size().1 as i32, 2 * MARGIN + TITLE_BAND + 20 + GAP);
    }

    #[test]
    fn bad_tiles_are_errors() {
        let wrong_len = ImageGrid::new("t", 2).with_group("g", vec![tile(vec![0.0; 3], 2, 2)]);
        assert!(matches!(wrong_len.validate().unwrap_err(), Error::ShapeMismatch { .. }));
        let out_of_range = ImageGrid::new("t", 2).with_group("g", vec![tile(vec![0.0, 0.5, 1.5, 0.0], 2, 2)]);
        assert!(matches!(out_of_range.validate().unwrap_err(), Error::InvalidParameter { .. }));
        assert!(ImageGrid::new("t", 2).validate().is_err(), "no tiles");
        assert!(ImageGrid::new("t", 0).with_group("g", vec![tile(vec![0.0; 4], 2, 2)]).validate().is_err());
    }
}
