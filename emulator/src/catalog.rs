//! The built-in model catalog and `modelSearch` filtering. (stub: owned by the content helper)
