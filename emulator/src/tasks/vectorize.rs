//! `vectorize`: the input image as an SVG, answered as `imageUUID` with `imageURL`,
//! `imageBase64Data` or `imageDataURI` (`outputType`), served at `/media/<uuid>.svg` as
//! `image/svg+xml`. `outputFormat` is `SVG` (the default; anything else is `invalidOutputFormat`).
//!
//! The SVG is the image posterised: averaged over a grid of at most [`GRID`] cells along the
//! longer side, each colour channel reduced to three levels, and drawn as one `<path>` per colour
//! made of the horizontal runs of its cells, in the input's own pixel coordinates.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use image::DynamicImage;
use serde_json::{Value, json};

use super::input_image::{self, Input};
use super::raster::to_u8;
use super::{Job, Keyed, Kind, TaskType, add_cost, item, output};
use crate::delivery;
use crate::render;
use crate::state::{Shared, StoredMedia};
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["vectorize"],
    doc: "https://runware.ai/docs/en/tools/vectorize",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The item's cost.
const COST: f64 = 0.002;

/// At most this many cells along the image's longer side.
const GRID: u32 = 48;

/// The SVG MIME type.
const MIME: &str = "image/svg+xml";

/// A validated vectorize task.
struct Vectorize {
    input: Input,
    types: Vec<&'static str>,
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let input = input_image::required(shared, ctx)?;
    ctx.air("model", false)?;
    ctx.one_of("outputFormat", "Output format", &["SVG"], true, false)?;
    let types = output::types(ctx)?;
    Ok(Box::new(Vectorize { input, types }))
}

impl Job for Vectorize {
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let Vectorize { input, types } = *self;
            let bytes = input.bytes;
            let res =
                tokio::task::spawn_blocking(move || render::decode(&bytes).map(|i| svg(&i))).await;
            let svg = match res {
                Ok(Ok(s)) => Bytes::from(s),
                Ok(Err(e)) => {
                    return Err(ctx.err(
                        "invalidInputImage",
                        format!("The input image could not be processed: {e}"),
                    ));
                }
                Err(_) => {
                    return Err(ctx.err("inferenceError", "The image could not be vectorized."));
                }
            };
            let uuid = shared.store_media(StoredMedia {
                bytes: svg.clone(),
                content_type: MIME.into(),
                extension: "svg".into(),
            });
            delivery::queue_upload(shared, ctx, svg.clone(), MIME);
            let mut item = item(ctx, json!({ "imageUUID": uuid }));
            let url = shared.media_url(&uuid, "svg");
            output::add_fields(&mut item, "image", &types, &url, MIME, &svg);
            add_cost(&mut item, include_cost, COST);
            Ok(vec![item])
        }
        .boxed()
    }
}

/// The posterised SVG of `img`.
fn svg(img: &DynamicImage) -> String {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let cell = w.max(h).div_ceil(GRID).max(1);
    let (gw, gh) = (w.div_ceil(cell), h.div_ceil(cell));
    // Per colour (as #rrggbb), the path data of its runs; BTreeMap keeps the output stable.
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for gy in 0..gh {
        let (y0, y1) = (gy * cell, ((gy + 1) * cell).min(h));
        let mut run: Option<(u32, String)> = None;
        for gx in 0..=gw {
            let colour = (gx < gw).then(|| {
                let (x0, x1) = (gx * cell, ((gx + 1) * cell).min(w));
                let mut sum = [0u64; 3];
                let mut n = 0u64;
                for y in y0..y1 {
                    for x in x0..x1 {
                        if let Some(p) = rgb.get_pixel_checked(x, y) {
                            for (s, c) in sum.iter_mut().zip(p.0) {
                                *s += u64::from(c);
                            }
                            n += 1;
                        }
                    }
                }
                let [r, g, b] = sum.map(|s| level(s as f32 / n.max(1) as f32));
                format!("#{r:02x}{g:02x}{b:02x}")
            });
            // Close the current run when the colour changes (or the row ends).
            if let Some((start, c)) = run.take() {
                if colour.as_deref() == Some(c.as_str()) {
                    run = Some((start, c));
                    continue;
                }
                let (x0, x1) = (start * cell, (gx * cell).min(w));
                let d = paths.entry(c).or_default();
                let _ = write!(d, "M{x0} {y0}H{x1}V{y1}H{x0}Z");
            }
            run = colour.map(|c| (gx, c));
        }
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" shape-rendering=\"crispEdges\">\n"
    );
    for (colour, d) in &paths {
        let _ = writeln!(out, "<path fill=\"{colour}\" d=\"{d}\"/>");
    }
    out.push_str("</svg>\n");
    out
}

/// A channel mean reduced to three levels: 0, 128 or 255.
fn level(mean: f32) -> u8 {
    to_u8((mean / 127.5).round() * 127.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn posterises_into_one_path_per_colour() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(96, 48, |x, _| {
            if x < 48 {
                Rgb([250, 10, 10])
            } else {
                Rgb([10, 10, 250])
            }
        }));
        let s = svg(&img);
        assert!(
            s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"48\"")
        );
        assert!(s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<path").count(), 2, "{s}");
        assert!(
            s.contains("fill=\"#ff0000\"") && s.contains("fill=\"#0000ff\""),
            "{s}"
        );
        // Each row of cells is one run per colour.
        assert!(s.contains("M0 0H48V2H0Z"), "{s}");
        assert_eq!(s, svg(&img), "deterministic");
    }
}
