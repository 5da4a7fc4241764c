//! Deterministic procedural images in PNG, JPG and WEBP. (stub: owned by the content helper)
