//! Deterministic procedural images in PNG, JPG and WEBP, and the simple image operations
//! (upscale, background removal, caption) the emulator performs on images it holds.

/// An output image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG.
    Jpg,
    /// WEBP (lossless).
    Webp,
}

impl Format {
    /// Parses `PNG`, `JPG`/`JPEG` or `WEBP`, case-insensitively.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpg),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }
    /// The file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpg => "jpg",
            Format::Webp => "webp",
        }
    }
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }
}

/// Renders a picture of `width`×`height` for (prompt, seed), encoded in `format`.
pub fn render(
    prompt: &str,
    seed: u64,
    width: u32,
    height: u32,
    format: Format,
    quality: u8,
) -> Vec<u8> {
    let _ = (prompt, seed, width, height, format, quality);
    Vec::new()
}

/// A tiny fixed valid image per format.
pub fn placeholder(format: Format) -> &'static [u8] {
    let _ = format;
    &[]
}

/// An operation on an existing image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Scale up by this factor.
    Upscale(u32),
    /// Make the background transparent.
    RemoveBackground,
}

/// Applies `op` to an encoded image and re-encodes it in `format`.
pub fn transform(
    input: &[u8],
    op: Transform,
    format: Format,
    quality: u8,
) -> anyhow::Result<Vec<u8>> {
    let _ = (input, op, format, quality);
    anyhow::bail!("not implemented yet")
}

/// A deterministic caption derived from the image's statistics.
pub fn caption(input: &[u8]) -> String {
    let _ = input;
    String::new()
}
