//! # parallax
//!
//! The facade of Parallax: the search API and re-exports of the focused crates.

#![warn(missing_docs)]

pub use parallax_hw as hw;
pub use parallax_ir as ir;
pub use parallax_place as place;
pub use parallax_plan as plan;
pub use parallax_sim as sim;
