//! `imageMasking`: finds the subjects of the input image and answers a mask of the input's size
//! (white boxes on black) with their `detections [{x_min, y_min, x_max, y_max}]`.
//!
//! A "subject" is a connected region that differs from the image's border colour (the same
//! measure background removal uses), found on a coarse grid so that noise does not count. Each
//! has a confidence, 0.5 + 0.49 × the share of its box it fills; those under `confidence` are
//! dropped and at most `maxDetections` (largest first) are kept. `maskPadding` grows (negative:
//! shrinks) each box in the mask and `maskBlur` softens its edges; detections report the boxes
//! as found. The settings are read from `settings` (the SDK 1.8.0 form) or, in the older form,
//! from the task itself.

use crate::validate::range;
use std::collections::VecDeque;

use image::{DynamicImage, ExtendedColorType, GrayImage, Luma};
use serde_json::json;

use super::raster::{Raster, RasterJob};
use super::{Job, Keyed, Kind, TaskType, input_image, output};
use crate::render::{self, Format};
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["imageMasking"],
    doc: "https://runware.ai/docs/en/tools/image-masking",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The item's cost.
const COST: f64 = 0.0006;

/// The grid the subjects are looked for on: at most this many cells along the longer side.
const GRID: u32 = 64;

/// The mask settings.
#[derive(Clone, Copy)]
struct Settings {
    confidence: f64,
    max_detections: usize,
    padding: i64,
    blur: u32,
}

/// Reads the settings from `ctx` over `base` (later values win).
fn read(ctx: &TaskCtx<'_>, base: Settings) -> Result<Settings, ApiError> {
    Ok(Settings {
        confidence: ctx
            .float("confidence", "Confidence", range(0.0, 1.0), false)?
            .unwrap_or(base.confidence),
        max_detections: ctx
            .int_as("maxDetections", "Max detections", range(1.0, 20.0), false)?
            .unwrap_or(base.max_detections),
        padding: ctx
            .int("maskPadding", "Mask padding", range(-2048.0, 2048.0), false)?
            .unwrap_or(base.padding),
        blur: ctx
            .int_as("maskBlur", "Mask blur", range(0.0, 2048.0), false)?
            .unwrap_or(base.blur),
    })
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let input = input_image::required(shared, ctx)?;
    ctx.air("model", false)?;
    // Runware's defaults for its detection models (ADetailer's): 0.25, 6, 4 px, 4 px.
    let defaults = Settings {
        confidence: 0.25,
        max_detections: 6,
        padding: 4,
        blur: 4,
    };
    let mut settings = read(ctx, defaults)?;
    if let Some(s) = ctx.object("settings")? {
        let sctx = TaskCtx {
            task: s,
            task_type: ctx.task_type,
            task_uuid: ctx.task_uuid,
        };
        settings = read(&sctx, settings)?;
    }
    let output = output::options(ctx, Format::Png)?;
    Ok(Box::new(RasterJob {
        input,
        output,
        cost: COST,
        prefix: "maskImage",
        compute: Box::new(move |img| mask(img, settings)),
    }))
}

/// A detection box, inclusive pixel bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct BoxPx {
    x_min: u32,
    y_min: u32,
    x_max: u32,
    y_max: u32,
    score: f64,
}

/// The subjects of `img`, largest first.
fn detect(img: &DynamicImage) -> Vec<BoxPx> {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let fg = render::remove_background(&rgb);
    let cell = w.max(h).div_ceil(GRID).max(1);
    let (gw, gh) = (w.div_ceil(cell), h.div_ceil(cell));
    let idx = |gx: u32, gy: u32| usize::try_from(gy * gw + gx).unwrap_or(usize::MAX);
    // Per cell: foreground pixels and all pixels.
    let n = idx(gw.saturating_sub(1), gh.saturating_sub(1)).saturating_add(1);
    let mut counts = vec![(0u32, 0u32); n];
    for (x, y, p) in fg.enumerate_pixels() {
        if let Some(c) = counts.get_mut(idx(x / cell, y / cell)) {
            c.1 += 1;
            if p.0[3] >= 128 {
                c.0 += 1;
            }
        }
    }
    let on: Vec<bool> = counts.iter().map(|&(f, a)| a > 0 && f * 4 >= a).collect();
    let mut seen = vec![false; n];
    let mut found = Vec::new();
    for start in 0..n {
        if !on.get(start).copied().unwrap_or(false) || seen.get(start).copied().unwrap_or(true) {
            continue;
        }
        // Breadth-first over 4-connected foreground cells.
        let (mut bx0, mut by0, mut bx1, mut by1) = (u32::MAX, u32::MAX, 0, 0);
        let (mut fg_px, mut cells) = (0u64, 0u64);
        let mut queue = VecDeque::from([start]);
        if let Some(s) = seen.get_mut(start) {
            *s = true;
        }
        while let Some(i) = queue.pop_front() {
            let Ok(i_u32) = u32::try_from(i) else {
                continue;
            };
            let (gx, gy) = (i_u32 % gw, i_u32 / gw);
            bx0 = bx0.min(gx);
            by0 = by0.min(gy);
            bx1 = bx1.max(gx);
            by1 = by1.max(gy);
            fg_px += u64::from(counts.get(i).map_or(0, |c| c.0));
            cells += 1;
            let mut next = Vec::with_capacity(4);
            if gx > 0 {
                next.push(idx(gx - 1, gy));
            }
            if gx + 1 < gw {
                next.push(idx(gx + 1, gy));
            }
            if gy > 0 {
                next.push(idx(gx, gy - 1));
            }
            if gy + 1 < gh {
                next.push(idx(gx, gy + 1));
            }
            for j in next {
                if on.get(j).copied().unwrap_or(false)
                    && let Some(s) = seen.get_mut(j)
                    && !*s
                {
                    *s = true;
                    queue.push_back(j);
                }
            }
        }
        let b = BoxPx {
            x_min: bx0 * cell,
            y_min: by0 * cell,
            x_max: ((bx1 + 1) * cell).min(w).saturating_sub(1),
            y_max: ((by1 + 1) * cell).min(h).saturating_sub(1),
            score: 0.0,
        };
        let area = f64::from(b.x_max - b.x_min + 1) * f64::from(b.y_max - b.y_min + 1);
        let fill = (fg_px as f64 / area).clamp(0.0, 1.0);
        found.push((
            cells,
            BoxPx {
                score: ((0.5 + 0.49 * fill) * 1000.0).round() / 1000.0,
                ..b
            },
        ));
    }
    // Specks (under 1% of the largest region) are noise, not subjects.
    let largest = found.iter().map(|f| f.0).max().unwrap_or(0);
    found.retain(|f| f.0 * 100 >= largest);
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|f| f.1).collect()
}

/// The mask and detections of `img` under `s`.
fn mask(img: &DynamicImage, s: Settings) -> Raster {
    let (w, h) = (img.width(), img.height());
    let (wm, hm) = (w.saturating_sub(1), h.saturating_sub(1));
    let boxes: Vec<BoxPx> = detect(img)
        .into_iter()
        .filter(|b| b.score >= s.confidence)
        .take(s.max_detections)
        .collect();
    let grow = |v: u32, by: i64, max: u32| -> u32 {
        u32::try_from((i64::from(v) + by).clamp(0, i64::from(max))).unwrap_or(0)
    };
    let padded: Vec<(u32, u32, u32, u32)> = boxes
        .iter()
        .map(|b| {
            (
                grow(b.x_min, -s.padding, wm),
                grow(b.y_min, -s.padding, hm),
                grow(b.x_max, s.padding, wm),
                grow(b.y_max, s.padding, hm),
            )
        })
        .filter(|(x0, y0, x1, y1)| x0 <= x1 && y0 <= y1)
        .collect();
    let mut m = GrayImage::new(w, h);
    for (x, y, p) in m.enumerate_pixels_mut() {
        if padded
            .iter()
            .any(|&(x0, y0, x1, y1)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y))
        {
            *p = Luma([255]);
        }
    }
    if s.blur > 0 {
        // A blur of N pixels softens about N pixels either side of an edge (sigma N/2).
        let sigma = s.blur as f32 / 2.0;
        m = image::imageops::fast_blur(&m, sigma);
    }
    let detections: Vec<_> = boxes
        .iter()
        .map(|b| {
            json!({"x_min": b.x_min, "y_min": b.y_min, "x_max": b.x_max, "y_max": b.y_max, "confidence": b.score})
        })
        .collect();
    Raster {
        pixels: m.into_raw(),
        width: w,
        height: h,
        colour: ExtendedColorType::L8,
        extra: json!({ "detections": detections }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use image::{Rgb, RgbImage};

    fn scene() -> DynamicImage {
        // Grey background, a red square at (20..40, 10..30) and a blue one at (60..90, 50..90).
        DynamicImage::ImageRgb8(RgbImage::from_fn(128, 96, |x, y| {
            if (20..40).contains(&x) && (10..30).contains(&y) {
                Rgb([220, 30, 30])
            } else if (60..90).contains(&x) && (50..90).contains(&y) {
                Rgb([30, 30, 220])
            } else {
                Rgb([128, 128, 128])
            }
        }))
    }

    #[test]
    fn finds_each_subject_largest_first() {
        let found = detect(&scene());
        assert_eq!(found.len(), 2, "{found:?}");
        let b = found[0];
        assert_eq!((b.x_min, b.y_min, b.x_max, b.y_max), (60, 50, 89, 89));
        let b = found[1];
        assert_eq!((b.x_min, b.y_min, b.x_max, b.y_max), (20, 10, 39, 29));
        assert!(found.iter().all(|b| b.score > 0.9));
    }

    #[test]
    fn settings_limit_pad_and_blur_the_mask() {
        let s = Settings {
            confidence: 0.25,
            max_detections: 1,
            padding: 2,
            blur: 0,
        };
        let r = mask(&scene(), s);
        assert_eq!((r.width, r.height), (128, 96));
        assert_eq!(r.extra["detections"].as_array().unwrap().len(), 1);
        let px = |x: u32, y: u32| r.pixels[(y * 128 + x) as usize];
        assert_eq!(px(58, 48), 255, "padded by 2");
        assert_eq!(px(57, 48), 0);
        assert_eq!(px(30, 20), 0, "the second subject is over maxDetections");
        let none = mask(
            &scene(),
            Settings {
                confidence: 1.0,
                ..s
            },
        );
        assert!(none.pixels.iter().all(|&p| p == 0));
        let soft = mask(&scene(), Settings { blur: 8, ..s });
        assert!(soft.pixels.iter().any(|&p| p > 0 && p < 255), "soft edges");
    }
}
