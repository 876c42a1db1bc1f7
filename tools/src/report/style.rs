//! What every chart of the report shares: the colours and the drawing
//! result type. Its own module so that the chart kinds (`charts`, `bars`)
//! depend on it and never on each other.

use plotters::style::RGBColor;
use std::error::Error;

/// Tableau 10: distinguishable, and readable on white.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// What drawing one chart returns: plotters' errors differ per backend.
pub(super) type DrawResult = Result<(), Box<dyn Error>>;
