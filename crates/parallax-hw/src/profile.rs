//! Measured operator profiles and the profiled cost model that interpolates them.
