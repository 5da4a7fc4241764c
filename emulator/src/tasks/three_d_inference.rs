//! `3dInference`: a model from `positivePrompt` and/or `inputs.image` (also the first of
//! `inputs.images`), answered as `{outputs: {files: [{uuid, url}]}, seed}`: one item per
//! `numberResults`, each a real binary glTF 2.0 file (`.glb`) served at `/media/<uuid>.glb` as
//! `model/gltf-binary`.
//!
//! The model is a box (24 vertices with per-face normals and vertex colours, 36 indices) whose
//! proportions and colour come from a hash of the prompt and the seed; with an input image the
//! colour is the image's mean colour. `outputFormat` is `GLB` (the default); the other formats
//! some models list (FBX, OBJ, STL, USDZ, 3MF, PLY) are `invalidOutputFormat`, and so is anything
//! else. `outputType` can only be `URL` (files are only served by URL).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, add_cost, input_image, item, output};
use crate::delivery;
use crate::render;
use crate::state::{Shared, StoredMedia};
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["3dInference"],
    doc: "https://runware.ai/docs/en/3d-inference/api-reference",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// Each item's cost (3D generation is among Runware's dearer tasks).
const COST: f64 = 0.05;

/// The binary glTF MIME type.
const MIME: &str = "model/gltf-binary";

/// A validated 3dInference.
struct Model3d {
    prompt: String,
    image: Option<Bytes>,
    seed: Option<u64>,
    number_results: usize,
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    ctx.air("model", false)?;
    let prompt = ctx.string("positivePrompt", "Positive prompt", 1, 3000, false)?;
    ctx.string("negativePrompt", "Negative prompt", 1, 3000, false)?;
    let mut image = None;
    if let Some(inputs) = ctx.object("inputs")? {
        let found = match (inputs.get("image"), inputs.get("images")) {
            (Some(Value::String(s)), _) => Some(("inputs.image", s.as_str())),
            (Some(v), _) if !v.is_null() => {
                return Err(ctx.param_err(
                    "invalidImage",
                    "inputs.image",
                    "Invalid value for 'inputs.image' parameter. It must be a string.".into(),
                    "string",
                    None,
                ));
            }
            (_, Some(Value::Array(list))) => match list.first() {
                Some(Value::String(s)) => Some(("inputs.images", s.as_str())),
                Some(_) => return Err(input_image::invalid(ctx, "inputs.images")),
                None => None,
            },
            _ => None,
        };
        if let Some((param, s)) = found {
            let input =
                input_image::resolve(shared, s).ok_or_else(|| input_image::invalid(ctx, param))?;
            image = Some(input.bytes);
        }
    }
    if prompt.is_none() && image.is_none() {
        return Err(ctx.param_err(
            "missingPositivePrompt",
            "positivePrompt",
            "Missing required parameter 'positivePrompt'. Send positivePrompt, inputs.image, or both.".into(),
            "string",
            None,
        ));
    }
    ctx.one_of("outputFormat", "Output format", &["GLB"], true, false)?;
    if output::types(ctx)?.iter().any(|t| *t != "URL") {
        return Err(ctx.param_err(
            "invalidOutputType",
            "outputType",
            "Invalid value for 'outputType' parameter. 3D models are delivered as files: outputType must be URL.".into(),
            "string",
            None,
        ));
    }
    let seed = super::seed(ctx)?;
    let number_results = super::number_results(ctx, 4.0)?;
    // Accepted for compatibility; the model does not depend on them.
    ctx.object("settings")?;
    Ok(Box::new(Model3d {
        prompt: prompt.unwrap_or_default().to_string(),
        image,
        seed,
        number_results,
    }))
}

impl Job for Model3d {
    fn expected(&self) -> usize {
        self.number_results
    }

    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let m = *self;
            let tint = match m.image {
                None => None,
                Some(bytes) => {
                    let res = tokio::task::spawn_blocking(move || {
                        render::decode(&bytes).map(|i| mean_colour(&i))
                    })
                    .await;
                    match res {
                        Ok(Ok(c)) => Some(c),
                        Ok(Err(e)) => {
                            return Err(ctx.err(
                                "invalidImage",
                                format!("The input image could not be processed: {e}"),
                            ));
                        }
                        Err(_) => {
                            return Err(ctx.err("inferenceError", "The model could not be built."));
                        }
                    }
                }
            };
            let base_seed = m
                .seed
                .unwrap_or_else(|| u64::from(rand::random::<u32>().max(1)));
            let mut items = Vec::with_capacity(m.number_results);
            for i in 0..m.number_results {
                let seed = base_seed.saturating_add(u64::try_from(i).unwrap_or(0));
                let bytes = Bytes::from(glb(&m.prompt, seed, tint));
                let uuid = shared.store_media(StoredMedia {
                    bytes: bytes.clone(),
                    content_type: MIME.into(),
                    extension: "glb".into(),
                });
                delivery::queue_upload(shared, ctx, bytes, MIME);
                let url = shared.media_url(&uuid, "glb");
                let mut item = item(
                    ctx,
                    json!({"outputs": {"files": [{"uuid": uuid, "url": url}]}, "seed": seed}),
                );
                add_cost(&mut item, include_cost, COST);
                items.push(item);
            }
            Ok(items)
        }
        .boxed()
    }
}

/// The mean colour of an image, each channel 0–1.
fn mean_colour(img: &image::DynamicImage) -> [f32; 3] {
    let rgb = img.to_rgb8();
    let mut sum = [0u64; 3];
    for p in rgb.pixels() {
        for (s, c) in sum.iter_mut().zip(p.0) {
            *s += u64::from(c);
        }
    }
    let n = rgb.pixels().len().max(1) as f32;
    sum.map(|s| s as f32 / n / 255.0)
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in `[0, 1)` from the `n`th draw of hash `h`.
fn unit(h: u64, n: u64) -> f32 {
    let bits = u32::try_from(mix(h ^ mix(n)) >> 40).unwrap_or(0);
    bits as f32 / (1u32 << 24) as f32
}

/// A colour from a hue in `[0, 1)` (saturation 0.6, value 0.85).
fn hue(h: f32) -> [f32; 3] {
    let (s, v) = (0.6f32, 0.85f32);
    let k = |n: f32| {
        let k = (n + h * 6.0) % 6.0;
        v - v * s * k.min(4.0 - k).clamp(0.0, 1.0)
    };
    [k(5.0), k(3.0), k(1.0)]
}

/// A binary glTF 2.0 file holding one box mesh for (prompt, seed), tinted `tint` if given.
pub(super) fn glb(prompt: &str, seed: u64, tint: Option<[f32; 3]>) -> Vec<u8> {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in prompt.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    let h = mix(h ^ mix(seed));
    let half = [
        0.3 + 0.2 * unit(h, 1),
        0.3 + 0.2 * unit(h, 2),
        0.3 + 0.2 * unit(h, 3),
    ];
    let colour = tint.unwrap_or_else(|| hue(unit(h, 4)));
    // The six faces: (normal axis, sign), each a quad of four corners.
    let mut positions: Vec<[f32; 3]> = Vec::with_capacity(24);
    let mut normals: Vec<[f32; 3]> = Vec::with_capacity(24);
    let mut colours: Vec<[f32; 3]> = Vec::with_capacity(24);
    let mut indices: Vec<u16> = Vec::with_capacity(36);
    for (face, (axis, sign)) in [
        (0, 1.0f32),
        (0, -1.0),
        (1, 1.0),
        (1, -1.0),
        (2, 1.0),
        (2, -1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
        let base = u16::try_from(positions.len()).unwrap_or(0);
        // Counter-clockwise seen from outside: swap the winding on the negative faces.
        let corners: [(f32, f32); 4] = if sign > 0.0 {
            [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
        } else {
            [(-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)]
        };
        // Faces are shaded a little differently so that the box reads as 3D without lighting.
        let shade = 0.7 + 0.05 * face as f32;
        for (cu, cv) in corners {
            let mut p = [0.0f32; 3];
            let mut n = [0.0f32; 3];
            for (i, (pi, ni)) in p.iter_mut().zip(n.iter_mut()).enumerate() {
                let extent = half.get(i).copied().unwrap_or(0.5);
                *pi = extent
                    * if i == axis {
                        sign
                    } else if i == u {
                        cu
                    } else if i == v {
                        cv
                    } else {
                        0.0
                    };
                *ni = if i == axis { sign } else { 0.0 };
            }
            positions.push(p);
            normals.push(n);
            colours.push(colour.map(|c| (c * shade).clamp(0.0, 1.0)));
        }
        indices.extend([0, 1, 2, 0, 2, 3].map(|i| base + i));
    }
    let floats = |v: &[[f32; 3]]| -> Vec<u8> {
        v.iter()
            .flat_map(|p| p.iter().flat_map(|f| f.to_le_bytes()))
            .collect()
    };
    let mut bin = floats(&positions);
    let normals_at = bin.len();
    bin.extend(floats(&normals));
    let colours_at = bin.len();
    bin.extend(floats(&colours));
    let indices_at = bin.len();
    bin.extend(indices.iter().flat_map(|i| i.to_le_bytes()));
    let indices_len = bin.len() - indices_at;
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let vec3 = 24 * 12;
    let min = half.map(|e| -e);
    let name = if prompt.trim().is_empty() {
        "model".to_string()
    } else {
        prompt.chars().take(64).collect()
    };
    let [r, g, b] = colour;
    let base_colour = [r, g, b, 1.0];
    let gltf = json!({
        "asset": {"version": "2.0", "generator": "runware-emulator"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2},
            "indices": 3,
            "material": 0,
            "mode": 4,
        }]}],
        "materials": [{
            "name": "surface",
            "pbrMetallicRoughness": {"baseColorFactor": base_colour, "metallicFactor": 0.0, "roughnessFactor": 0.8},
        }],
        "buffers": [{"byteLength": bin.len()}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": vec3, "target": 34962},
            {"buffer": 0, "byteOffset": normals_at, "byteLength": vec3, "target": 34962},
            {"buffer": 0, "byteOffset": colours_at, "byteLength": vec3, "target": 34962},
            {"buffer": 0, "byteOffset": indices_at, "byteLength": indices_len, "target": 34963},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 24, "type": "VEC3", "min": min, "max": half},
            {"bufferView": 1, "componentType": 5126, "count": 24, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": 24, "type": "VEC3"},
            {"bufferView": 3, "componentType": 5123, "count": 36, "type": "SCALAR"},
        ],
    });
    let mut json_chunk = gltf.to_string().into_bytes();
    // The JSON chunk is padded with spaces, the BIN chunk with zeros, each to 4 bytes.
    while !json_chunk.len().is_multiple_of(4) {
        json_chunk.push(b' ');
    }
    let total = 12 + 8 + json_chunk.len() + 8 + bin.len();
    let u32le = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&u32le(total));
    out.extend_from_slice(&u32le(json_chunk.len()));
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_chunk);
    out.extend_from_slice(&u32le(bin.len()));
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}
