//! `controlNetPreprocess` (alias `imageControlNetPreProcess`): a ControlNet guide image computed
//! from the input image, answered as `guideImageUUID`, `guideImageURL…` and `inputImageUUID`.
//!
//! The preprocessor is named by the model's version (`runware:controlnet-preprocess@lineart`)
//! or, in the older form, by `preProcessorType` (the model wins when both are sent). What each
//! computes, at the input's size, PNG unless another `outputFormat` is asked for:
//!
//! * `canny`, `lineart`, `lineart_anime`, `mlsd`, `scribble`, `openpose` and any name the
//!   emulator does not know (lenient): white edges on black, where the Sobel gradient of the
//!   luma reaches `lowThresholdCanny` (0–255, default 100; `highThresholdCanny` is accepted);
//! * `softedge`: the gradient's magnitude in grey;
//! * `depth`: the blurred luma stretched to the full range (bright is near);
//! * `normalbae`: a normal map from the luma gradient;
//! * `seg`: the colours posterised to eight flat regions;
//! * `tile`, `shuffle`: the input blurred.

use image::{DynamicImage, ExtendedColorType, GrayImage, RgbImage};

use super::raster::{Raster, RasterJob, luma, to_u8};
use super::{Job, Keyed, Kind, TaskType, input_image, output};
use crate::render::Format;
use crate::state::Shared;
use crate::validate::{ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["controlNetPreprocess", "imageControlNetPreProcess"],
    doc: "https://runware.ai/docs/en/tools/controlnet-preprocess",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The item's cost.
const COST: f64 = 0.0006;

/// What the preprocessor computes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    /// Binary edges where the gradient reaches this magnitude.
    Edges(f32),
    /// The gradient's magnitude.
    SoftEdges,
    /// The blurred, stretched luma.
    Depth,
    /// A normal map.
    Normals,
    /// Posterised colours.
    Segments,
    /// The input blurred.
    Blur,
}

/// The preprocessor a name (a model version or a `preProcessorType`) stands for.
fn op_for(name: &str, threshold: f32) -> Op {
    match name.to_ascii_lowercase().replace('-', "_").as_str() {
        "softedge" | "hed" | "pidi" => Op::SoftEdges,
        "depth" | "midas" | "zoe" => Op::Depth,
        "normalbae" | "normal" => Op::Normals,
        "seg" | "segmentation" => Op::Segments,
        "tile" | "shuffle" => Op::Blur,
        _ => Op::Edges(threshold),
    }
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let input = input_image::required(shared, ctx)?;
    let model = ctx.air("model", false)?;
    let kind = ctx.string("preProcessorType", "Preprocessor type", 1, 64, false)?;
    let threshold = |param: &str, what: &str| {
        ctx.int_as::<u8>(
            param,
            what,
            Range {
                min: 0.0,
                max: 255.0,
                multiplier: None,
            },
            false,
        )
    };
    let low = threshold("lowThresholdCanny", "Low threshold")?.unwrap_or(100);
    threshold("highThresholdCanny", "High threshold")?;
    // `runware:controlnet-preprocess@lineart`: the version names the preprocessor. Another model
    // (any valid AIR is accepted) says nothing about it.
    let from_model = model
        .filter(|m| m.contains("controlnet-preprocess@"))
        .and_then(|m| m.rsplit_once('@'))
        .map(|(_, v)| v);
    let op = op_for(from_model.or(kind).unwrap_or("canny"), f32::from(low));
    let output = output::options(ctx, Format::Png)?;
    Ok(Box::new(RasterJob {
        input,
        output,
        cost: COST,
        prefix: "guideImage",
        compute: Box::new(move |img| preprocess(img, op)),
    }))
}

/// The Sobel gradient (gx, gy) of the luma at every pixel, edges clamped.
fn gradient(l: &GrayImage) -> Vec<(f32, f32)> {
    let (w, h) = l.dimensions();
    let at = |x: i64, y: i64| -> f32 {
        let cx = u32::try_from(x.clamp(0, i64::from(w) - 1)).unwrap_or(0);
        let cy = u32::try_from(y.clamp(0, i64::from(h) - 1)).unwrap_or(0);
        l.get_pixel_checked(cx, cy)
            .map_or(0.0, |p| f32::from(p.0[0]))
    };
    let mut out = Vec::with_capacity(l.len());
    for y in 0..i64::from(h) {
        for x in 0..i64::from(w) {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            out.push((gx, gy));
        }
    }
    out
}

/// The guide image of `img` for `op`.
fn preprocess(img: &DynamicImage, op: Op) -> Raster {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let grey = GrayImage::from_fn(w, h, |x, y| {
        image::Luma([rgb.get_pixel_checked(x, y).map_or(0, |p| to_u8(luma(p.0)))])
    });
    let l8 = |pixels: Vec<u8>| Raster {
        pixels,
        width: w,
        height: h,
        colour: ExtendedColorType::L8,
        extra: serde_json::json!({}),
    };
    let rgb8 = |img: RgbImage| Raster {
        pixels: img.into_raw(),
        width: w,
        height: h,
        colour: ExtendedColorType::Rgb8,
        extra: serde_json::json!({}),
    };
    let magnitude = |g: &(f32, f32)| g.0.hypot(g.1);
    match op {
        Op::Edges(t) => l8(gradient(&grey)
            .iter()
            .map(|g| if magnitude(g) >= t { 255 } else { 0 })
            .collect()),
        Op::SoftEdges => l8(gradient(&grey)
            .iter()
            .map(|g| to_u8(magnitude(g) / 2.0))
            .collect()),
        Op::Depth => {
            let blurred = image::imageops::fast_blur(&grey, 2.0);
            let (lo, hi) = blurred
                .pixels()
                .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p.0[0]), hi.max(p.0[0])));
            let span = f32::from(hi.saturating_sub(lo)).max(1.0);
            l8(blurred
                .pixels()
                .map(|p| to_u8(f32::from(p.0[0].saturating_sub(lo)) * 255.0 / span))
                .collect())
        }
        Op::Normals => {
            let mut px = Vec::with_capacity(grey.len() * 3);
            for (gx, gy) in gradient(&grey) {
                // The surface z = luma/255 × strength; its normal (-dz/dx, -dz/dy, 1), unit length.
                let (nx, ny, nz) = (-gx / 255.0, gy / 255.0, 1.0f32);
                let len = (nx * nx + ny * ny + nz * nz).sqrt();
                for c in [nx, ny, nz] {
                    px.push(to_u8((c / len * 0.5 + 0.5) * 255.0));
                }
            }
            Raster {
                pixels: px,
                width: w,
                height: h,
                colour: ExtendedColorType::Rgb8,
                extra: serde_json::json!({}),
            }
        }
        Op::Segments => {
            let mut out = rgb;
            for p in out.pixels_mut() {
                p.0 = p.0.map(|c| if c >= 128 { 224 } else { 32 });
            }
            rgb8(out)
        }
        Op::Blur => rgb8(image::imageops::fast_blur(&rgb, 3.0)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use image::Rgb;

    fn square() -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(32, 32, |x, y| {
            if (8..24).contains(&x) && (8..24).contains(&y) {
                Rgb([250, 250, 250])
            } else {
                Rgb([10, 10, 10])
            }
        }))
    }

    #[test]
    fn names_choose_the_preprocessor() {
        assert_eq!(op_for("lineart-anime", 100.0), Op::Edges(100.0));
        assert_eq!(op_for("canny", 50.0), Op::Edges(50.0));
        assert_eq!(op_for("depth", 100.0), Op::Depth);
        assert_eq!(op_for("normalbae", 100.0), Op::Normals);
        assert_eq!(op_for("SoftEdge", 100.0), Op::SoftEdges);
        assert_eq!(op_for("something-new", 100.0), Op::Edges(100.0));
    }

    #[test]
    fn edges_outline_the_square() {
        let r = preprocess(&square(), Op::Edges(100.0));
        assert_eq!((r.width, r.height, r.pixels.len()), (32, 32, 32 * 32));
        let px = |x: usize, y: usize| r.pixels[y * 32 + x];
        assert_eq!(px(8, 16), 255, "the left edge");
        assert_eq!(px(16, 16), 0, "inside");
        assert_eq!(px(2, 2), 0, "outside");
        for (op, channels) in [
            (Op::SoftEdges, 1),
            (Op::Depth, 1),
            (Op::Segments, 3),
            (Op::Blur, 3),
        ] {
            let r = preprocess(&square(), op);
            assert_eq!(r.pixels.len(), 32 * 32 * channels, "{op:?}");
        }
        let n = preprocess(&square(), Op::Normals);
        assert_eq!(n.pixels.len(), 32 * 32 * 3);
        // A flat region faces the viewer: (0.5, 0.5, 1) → (128, 128, 255).
        assert_eq!(&n.pixels[..3], &[128, 128, 255]);
    }
}
