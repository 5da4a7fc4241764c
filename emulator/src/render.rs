//! Deterministic procedural images in PNG, JPG and WEBP, and the simple image operations the
//! emulator performs on images it holds (upscale, background removal, caption).
//!
//! [`render`] paints a landscape: a sky gradient with a sun (or a moon and stars), soft clouds,
//! layered mountain ridges fading into haze, sometimes a lake that mirrors them and pine forests
//! in front. Everything (palette, layout, ridges) derives from a hash of the prompt and the seed,
//! so the same (prompt, seed) always gives the same bytes and a new seed gives a new picture.
//! A few words of the prompt steer the scene: `night`/`moon`/`stars`, `sunset`/`sunrise`/`dusk`,
//! `lake`/`sea`/`water`/`reflection`, `forest`/`trees`/`pine`, `desert`, `snow`/`winter`.
//!
//! ```
//! use runware_emulator::render::{render, Format};
//! let png = render("a quiet lake at sunset", 42, 256, 128, Format::Png, 95);
//! assert_eq!(&png[1..4], b"PNG");
//! ```

use std::io::Cursor;
use std::sync::OnceLock;

use anyhow::Context as _;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage, RgbaImage};

/// The largest side [`render`] produces; larger requests are clamped (the server validates
/// sizes long before this).
pub const MAX_SIDE: u32 = 8192;

/// The largest side [`transform`] produces for an upscale (Runware's documented 4096×4096).
pub const MAX_UPSCALE_SIDE: u32 = 4096;

/// An output image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG (lossless, fast compression).
    Png,
    /// JPEG with the requested quality.
    Jpg,
    /// WEBP (lossless).
    Webp,
}

impl Format {
    /// Parses `PNG`, `JPG`/`JPEG` or `WEBP`, case-insensitively.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpg),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    /// The file extension, without a dot (`png`, `jpg`, `webp`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpg => "jpg",
            Format::Webp => "webp",
        }
    }

    /// The MIME type (`image/png`, `image/jpeg`, `image/webp`).
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    /// Detects the format of encoded image bytes from their magic number.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpg)
        } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
            Some(Format::Webp)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Numeric conversions.

/// Float-to-integer (and f64-to-f32) conversions, the only place they are written. Rust's `as`
/// from a float rounds toward zero and saturates at the target's bounds (NaN becomes 0): it
/// never wraps and never panics, and every caller wants exactly that clamp.
mod sat {
    #![expect(
        clippy::cast_possible_truncation,
        reason = "float casts saturate; that is the point of these helpers"
    )]

    /// `f` toward zero, clamped to `i32`.
    pub(super) fn f32_i32(f: f32) -> i32 {
        f as i32
    }
    /// `f` toward zero, clamped to `usize`.
    pub(super) fn f32_usize(f: f32) -> usize {
        f as usize
    }
    /// `f` toward zero, clamped to `u32`.
    pub(super) fn f32_u32(f: f32) -> u32 {
        f as u32
    }
    /// `f` toward zero, clamped to `u8`.
    pub(super) fn f32_u8(f: f32) -> u8 {
        f as u8
    }
    /// `f` toward zero, clamped to `u32`.
    pub(super) fn f64_u32(f: f64) -> u32 {
        f as u32
    }
    /// `f` rounded to the nearest `f32`.
    pub(super) fn f64_f32(f: f64) -> f32 {
        f as f32
    }
}

/// The low 32 bits of a hash.
fn low32(h: u64) -> u32 {
    u32::try_from(h & u64::from(u32::MAX)).unwrap_or(0)
}

/// A pixel coordinate (at most [`MAX_SIDE`] or a small multiple) as a lattice coordinate.
fn coord(x: usize) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Hashing and noise: integer hashes only, so results are identical on every platform.

/// The splitmix64 finaliser: a good 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of the prompt mixed with the seed.
fn scene_hash(prompt: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in prompt.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h ^ mix(seed))
}

/// A small deterministic generator for layout decisions.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// A 32-bit lattice hash mapped to `[0, 1)`.
fn lattice(i: i32, j: i32, salt: u32) -> f32 {
    let mut h = (i as u32).wrapping_mul(0x8DA6_B343)
        ^ (j as u32).wrapping_mul(0xD816_3841)
        ^ salt.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// 1-D value noise in `[0, 1)`.
fn noise1(x: f32, salt: u32) -> f32 {
    let i = x.floor();
    let t = smooth(x - i);
    let i = sat::f32_i32(i);
    let a = lattice(i, 0, salt);
    let b = lattice(i + 1, 0, salt);
    a + (b - a) * t
}

/// 2-D value noise in `[0, 1)`.
fn noise2(x: f32, y: f32, salt: u32) -> f32 {
    let (xi, yi) = (x.floor(), y.floor());
    let (tx, ty) = (smooth(x - xi), smooth(y - yi));
    let (xi, yi) = (sat::f32_i32(xi), sat::f32_i32(yi));
    let a = lattice(xi, yi, salt);
    let b = lattice(xi + 1, yi, salt);
    let c = lattice(xi, yi + 1, salt);
    let d = lattice(xi + 1, yi + 1, salt);
    let top = a + (b - a) * tx;
    let bottom = c + (d - c) * tx;
    top + (bottom - top) * ty
}

/// Fractal 1-D noise: `octaves` layers, each twice the frequency and `gain` the amplitude.
fn fbm1(x: f32, octaves: u32, gain: f32, salt: u32) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * noise1(x * freq, salt.wrapping_add(o * 7919));
        norm += amp;
        amp *= gain;
        freq *= 2.03;
    }
    sum / norm
}

// ---------------------------------------------------------------------------------------------
// Colour helpers.

type Rgb = [f32; 3];

/// HSV (hue in degrees, saturation and value in 0..1) to linear-ish RGB in 0..1, without trig.
fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match sat::f32_u32(h) {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [r + m, g + m, b + m]
}

fn lerp3(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn to_u8(c: f32) -> u8 {
    sat::f32_u8((c * 255.0 + 0.5).clamp(0.0, 255.0))
}

/// An RGB canvas of 8-bit pixels.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn idx(&self, x: usize, y: usize) -> usize {
        (y * self.w + x) * 3
    }
    /// Sets a pixel (callers stay inside the canvas; outside, nothing happens).
    fn set(&mut self, x: usize, y: usize, c: Rgb) {
        let i = self.idx(x, y);
        if let Some(p) = self.px.get_mut(i..i + 3) {
            p.copy_from_slice(&c.map(to_u8));
        }
    }
    /// A pixel (black outside the canvas, which callers never ask for).
    fn get(&self, x: usize, y: usize) -> Rgb {
        let i = self.idx(x, y);
        match self.px.get(i..i + 3) {
            Some(&[r, g, b]) => [r, g, b].map(|c| f32::from(c) / 255.0),
            _ => [0.0; 3],
        }
    }
    /// Blends `c` over the pixel with opacity `a`.
    fn blend(&mut self, x: usize, y: usize, c: Rgb, a: f32) {
        if a >= 0.999 {
            self.set(x, y, c);
        } else if a > 0.001 {
            let old = self.get(x, y);
            self.set(x, y, lerp3(old, c, a));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scene.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Time {
    Day,
    Sunset,
    Night,
}

struct Scene {
    time: Time,
    lake: bool,
    forest: bool,
    clouds: bool,
    sky_top: Rgb,
    horizon: Rgb,
    haze: Rgb,
    sun: Rgb,
    sun_u: f32,
    sun_v: f32,
    /// Sun radius as a fraction of the image height.
    sun_r: f32,
    far: Rgb,
    near: Rgb,
    horizon_v: f32,
    water_v: f32,
    layers: u32,
    salt: u32,
}

fn has_any(prompt: &str, words: &[&str]) -> bool {
    words.iter().any(|w| prompt.contains(w))
}

impl Scene {
    fn new(prompt: &str, seed: u64) -> Scene {
        let mut rng = Rng(scene_hash(prompt, seed));
        let p = prompt.to_lowercase();
        let roll = rng.unit();
        let time = if has_any(&p, &["night", "moon", "star", "midnight"]) {
            Time::Night
        } else if has_any(
            &p,
            &[
                "sunset",
                "sunrise",
                "dusk",
                "dawn",
                "golden hour",
                "evening",
            ],
        ) {
            Time::Sunset
        } else if roll < 0.2 {
            Time::Night
        } else if roll < 0.6 {
            Time::Sunset
        } else {
            Time::Day
        };
        let lake = has_any(
            &p,
            &["lake", "sea", "ocean", "river", "water", "reflection"],
        ) || rng.chance(0.4);
        let desert = has_any(&p, &["desert", "dune", "sand"]);
        let snow = has_any(&p, &["snow", "winter", "ice", "frozen"]);
        let forest = !desert
            && (has_any(&p, &["forest", "tree", "wood", "pine", "jungle"]) || rng.chance(0.6));
        let clouds = rng.chance(0.7);

        // The palette: one base hue, the land roughly opposite it.
        let mut hue = rng.range(0.0, 360.0);
        if desert {
            hue = rng.range(15.0, 45.0);
        } else if snow {
            hue = rng.range(190.0, 230.0);
        }
        let (sky_top, horizon, sun) = match time {
            Time::Day => (
                hsv(
                    hue * 0.15 + 195.0,
                    rng.range(0.45, 0.7),
                    rng.range(0.7, 0.85),
                ),
                hsv(hue * 0.1 + 185.0, rng.range(0.15, 0.3), 0.97),
                hsv(50.0, 0.12, 1.0),
            ),
            Time::Sunset => (
                hsv(
                    hue * 0.35 + 210.0,
                    rng.range(0.5, 0.75),
                    rng.range(0.3, 0.5),
                ),
                hsv(rng.range(10.0, 45.0), rng.range(0.55, 0.8), 1.0),
                hsv(rng.range(35.0, 55.0), 0.35, 1.0),
            ),
            Time::Night => (
                hsv(rng.range(220.0, 260.0), 0.7, rng.range(0.07, 0.13)),
                hsv(hue * 0.2 + 200.0, 0.45, rng.range(0.3, 0.42)),
                hsv(rng.range(40.0, 60.0), 0.08, 0.96),
            ),
        };
        let land_hue = if desert {
            hue
        } else {
            (hue + 150.0 + rng.range(0.0, 60.0)).rem_euclid(360.0)
        };
        let (far, near) = match time {
            Time::Night => (hsv(land_hue, 0.35, 0.22), hsv(land_hue + 20.0, 0.45, 0.04)),
            _ if desert => (hsv(land_hue, 0.45, 0.8), hsv(land_hue - 10.0, 0.7, 0.35)),
            _ if snow => (hsv(land_hue, 0.12, 0.9), hsv(land_hue, 0.35, 0.25)),
            _ => (
                hsv(land_hue, rng.range(0.25, 0.45), rng.range(0.45, 0.6)),
                hsv(land_hue + 25.0, rng.range(0.5, 0.7), rng.range(0.08, 0.16)),
            ),
        };
        let haze = match time {
            Time::Night => lerp3(horizon, sky_top, 0.3),
            _ => lerp3(horizon, [1.0, 1.0, 1.0], 0.15),
        };
        let horizon_v = rng.range(0.5, 0.64);
        Scene {
            time,
            lake,
            forest,
            clouds,
            sky_top,
            horizon,
            haze,
            sun,
            sun_u: rng.range(0.18, 0.82),
            sun_v: horizon_v - rng.range(0.12, 0.32),
            sun_r: match time {
                Time::Night => rng.range(0.035, 0.055),
                _ => rng.range(0.05, 0.09),
            },
            far,
            near,
            horizon_v,
            water_v: horizon_v + rng.range(0.06, 0.12),
            layers: 3 + low32(rng.next_u64() % 3),
            salt: low32(rng.next_u64()),
        }
    }
}

/// The ridge of a mountain layer: for each column, the y (in pixels, fractional) of its top.
#[expect(
    clippy::too_many_arguments,
    reason = "the shape parameters of one ridge"
)]
fn ridge(
    w: usize,
    h: usize,
    base_v: f32,
    amplitude_v: f32,
    roughness: f32,
    trees: bool,
    shore: bool,
    salt: u32,
) -> Vec<f32> {
    let hf = h as f32;
    // Horizontal coordinates in units of the image height, so shapes keep their aspect.
    let scale = 1.0 / hf;
    let mut tops = Vec::with_capacity(w);
    // Trees: a pine every `spacing` pixels, with its own height and jitter, sized by the shorter
    // side so tall images do not get giant trees.
    let short = hf.min(w as f32);
    let spacing = (short * 0.022).max(3.0);
    for x in 0..w {
        let u = x as f32 * scale;
        let n = fbm1(u * roughness + 11.0, 6, 0.5, salt);
        let mut top_v = base_v - amplitude_v * n;
        if trees {
            let cell = (x as f32 / spacing).floor();
            let mut best: f32 = 0.0;
            // Neighbouring trees overlap: take the tallest triangle covering this column.
            for k in -2..=2 {
                let c = sat::f32_i32(cell) + k;
                let jitter = lattice(c, 1, salt ^ 0x5151);
                let centre = (c as f32 + 0.5 + (jitter - 0.5) * 0.8) * spacing;
                let height = (0.03 + 0.05 * lattice(c, 2, salt ^ 0x7373)) * short;
                let half_width = height * 0.28;
                let d = (x as f32 - centre).abs();
                if d < half_width {
                    best = best.max(height * (1.0 - d / half_width));
                }
            }
            top_v -= best / hf;
        }
        if shore {
            // Banks on both sides, open water in the middle.
            let across = x as f32 / w as f32;
            let edge = ((across - 0.5).abs() * 2.0 - 0.35).max(0.0) / 0.65;
            let bank = smooth(edge.min(1.0));
            top_v = 1.0 + (top_v - 1.0) * bank;
        }
        tops.push(top_v * hf);
    }
    tops
}

/// Fills a layer from its ridge down to the bottom, with a soft anti-aliased edge and valley mist.
fn paint_layer(canvas: &mut Canvas, tops: &[f32], colour: Rgb, haze: Rgb, mist: f32) {
    let h = canvas.h;
    let mist_depth = h as f32 * 0.18;
    for (x, &top) in tops.iter().enumerate() {
        if top >= h as f32 {
            continue;
        }
        let first = sat::f32_usize(top.max(0.0).floor());
        for y in first..h {
            let yf = y as f32;
            let coverage = (yf + 1.0 - top).clamp(0.0, 1.0);
            let depth = ((yf - top) / mist_depth).clamp(0.0, 1.0);
            let c = lerp3(colour, haze, depth * mist);
            canvas.blend(x, y, c, coverage);
        }
    }
}

/// Paints the scene into a `w`×`h` canvas.
fn paint(prompt: &str, seed: u64, w: usize, h: usize) -> Canvas {
    let scene = Scene::new(prompt, seed);
    let mut canvas = Canvas {
        w,
        h,
        px: vec![0; w * h * 3],
    };
    let hf = h as f32;
    let horizon_y = scene.horizon_v * hf;

    // 1. Sky: a vertical gradient per row, the sun's glow, clouds, stars.
    // Round things (the sun, trees) scale with the shorter side, so tall images keep them small.
    let short = hf.min(w as f32);
    let (sun_x, sun_y, sun_r) = (
        scene.sun_u * w as f32,
        scene.sun_v * hf,
        scene.sun_r * short,
    );
    let glow_r2 = (sun_r * 4.0) * (sun_r * 4.0);
    let glow_strength = match scene.time {
        Time::Day => 0.35,
        Time::Sunset => 0.75,
        Time::Night => 0.25,
    };
    let cloud_colour = match scene.time {
        Time::Day => [1.0, 1.0, 1.0],
        Time::Sunset => lerp3(scene.horizon, [1.0, 0.85, 0.8], 0.4),
        Time::Night => lerp3(scene.sky_top, scene.horizon, 0.6),
    };
    let cloud_scale = 5.0 / hf;
    let sky_rows = (sat::f32_usize(horizon_y.ceil()) + 1).min(h);
    // Below the horizon the farthest ridge covers everything (the lake reflection copies rows
    // above it), so the sky only needs painting down to the horizon.
    for y in 0..sky_rows {
        let t = smooth((y as f32 / horizon_y).clamp(0.0, 1.0));
        let row = lerp3(scene.sky_top, scene.horizon, t.powf(1.4));
        let dy = y as f32 - sun_y;
        for x in 0..w {
            let dx = x as f32 - sun_x;
            let d2 = dx * dx + dy * dy;
            let glow = glow_strength / (1.0 + d2 / glow_r2 * 6.0);
            let mut c = lerp3(row, scene.sun, glow);
            if scene.clouds {
                let (cx, cy) = (x as f32 * cloud_scale * 0.45, y as f32 * cloud_scale * 1.6);
                let n = 0.65 * noise2(cx, cy, scene.salt ^ 0xC10D)
                    + 0.35 * noise2(cx * 2.1, cy * 2.1, scene.salt ^ 0xC10E);
                // Thinner near the horizon and at the very top.
                let band = 1.0 - ((y as f32 / horizon_y) - 0.45).abs() * 1.6;
                let a = ((n - 0.55) * 4.0).clamp(0.0, 1.0) * band.clamp(0.0, 1.0) * 0.8;
                c = lerp3(c, cloud_colour, a);
            }
            if scene.time == Time::Night {
                let s = lattice(coord(x), coord(y), scene.salt ^ 0x57A5);
                if s > 0.9985 {
                    let fade = 1.0 - (y as f32 / horizon_y).clamp(0.0, 1.0);
                    c = lerp3(c, [1.0, 1.0, 0.95], ((s - 0.9985) / 0.0015) * fade);
                }
            }
            // The disc, anti-aliased over one pixel.
            if d2 < (sun_r + 1.0) * (sun_r + 1.0) {
                let edge = (sun_r - d2.sqrt() + 0.5).clamp(0.0, 1.0);
                c = lerp3(c, scene.sun, edge);
            }
            canvas.set(x, y, c);
        }
    }

    // 2. Mountain layers, far to near. With a lake the far layers stand on the water line.
    let layers = scene.layers;
    let land_bottom = if scene.lake { scene.water_v } else { 1.0 };
    for i in 0..layers {
        let t = i as f32 / (layers.max(2) - 1) as f32;
        let base_v = scene.horizon_v + (land_bottom - scene.horizon_v) * t * 0.8;
        let amplitude = 0.3 * (1.0 - t * 0.55);
        let colour = lerp3(lerp3(scene.far, scene.haze, 0.35), scene.near, t * t * 0.8);
        let tops = ridge(
            w,
            h,
            base_v,
            amplitude,
            1.6 + t * 1.5,
            false,
            false,
            scene.salt.wrapping_add(i * 101),
        );
        paint_layer(&mut canvas, &tops, colour, scene.haze, 0.55 * (1.0 - t));
    }

    // 3. The lake: the rows above the water line mirrored, rippled and darkened.
    if scene.lake {
        let water_y = sat::f32_usize(scene.water_v * hf);
        let ripple: Vec<i32> = (0..64)
            .map(|k| {
                let phase = k as f32 / 64.0 * std::f32::consts::TAU;
                sat::f32_i32((phase.sin() * 2.0).round())
            })
            .collect();
        let tint = lerp3(scene.sky_top, scene.near, 0.5);
        for y in water_y.min(h)..h {
            let depth = (y - water_y) as f32 / (hf - water_y as f32).max(1.0);
            let src_y = (2 * water_y).saturating_sub(y + 1).min(h - 1);
            let wave = ripple
                .get((y * 7 + (y * y) / 13) % 64)
                .copied()
                .unwrap_or(0);
            let shift = wave * (1 + sat::f32_i32(depth * 3.0));
            for x in 0..w {
                let sx = usize::try_from((coord(x) + shift).clamp(0, coord(w) - 1)).unwrap_or(0);
                let c = lerp3(canvas.get(sx, src_y), tint, 0.25 + depth * 0.35);
                canvas.set(x, y, c);
            }
        }
    }

    // 4. The foreground: a forest or dark hills (shore banks when there is a lake).
    let front = if scene.forest { 2 } else { 1 };
    for i in 0..front {
        let base_v = 0.92 + i as f32 * 0.06 - if scene.lake { 0.0 } else { 0.04 };
        let colour = lerp3(scene.near, scene.far, 0.12 * (front - 1 - i) as f32);
        let tops = ridge(
            w,
            h,
            base_v,
            0.08,
            3.0,
            scene.forest,
            scene.lake,
            scene.salt.wrapping_add(977 + i * 31),
        );
        paint_layer(&mut canvas, &tops, colour, scene.haze, 0.08);
    }
    canvas
}

/// Encodes RGB or RGBA pixels.
pub(crate) fn encode(
    pixels: &[u8],
    w: u32,
    h: u32,
    colour: ExtendedColorType,
    format: Format,
    quality: u8,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(pixels.len() / 4);
    match format {
        Format::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(pixels, w, h, colour)?
        }
        Format::Jpg => {
            JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .write_image(pixels, w, h, colour)?;
        }
        Format::Webp => WebPEncoder::new_lossless(&mut out).write_image(pixels, w, h, colour)?,
    }
    Ok(out)
}

/// Renders a landscape of exactly `width`×`height` pixels for (prompt, seed), encoded in
/// `format` (`quality` 1–100 applies to JPG). Sides are clamped to `1..=MAX_SIDE`. Never panics:
/// should encoding ever fail, the format's [`placeholder`] is returned.
pub fn render(
    prompt: &str,
    seed: u64,
    width: u32,
    height: u32,
    format: Format,
    quality: u8,
) -> Vec<u8> {
    let (w, h) = (width.clamp(1, MAX_SIDE), height.clamp(1, MAX_SIDE));
    let canvas = paint(prompt, seed, w as usize, h as usize);
    encode(&canvas.px, w, h, ExtendedColorType::Rgb8, format, quality)
        .unwrap_or_else(|_| placeholder(format).to_vec())
}

/// A tiny fixed valid image per format (8×8 pixels), encoded once and cached, for the
/// emulator's placeholder image mode.
pub fn placeholder(format: Format) -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    static JPG: OnceLock<Vec<u8>> = OnceLock::new();
    static WEBP: OnceLock<Vec<u8>> = OnceLock::new();
    let slot = match format {
        Format::Png => &PNG,
        Format::Jpg => &JPG,
        Format::Webp => &WEBP,
    };
    slot.get_or_init(|| {
        // A fixed 8×8 two-tone tile: sky blue over green.
        let mut px = Vec::with_capacity(8 * 8 * 3);
        for y in 0..8 {
            for _ in 0..8 {
                px.extend_from_slice(if y < 5 {
                    &[120, 170, 230]
                } else {
                    &[60, 130, 70]
                });
            }
        }
        encode(&px, 8, 8, ExtendedColorType::Rgb8, format, 90).unwrap_or_default()
    })
}

/// An operation on an existing image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Scale up by this factor (1–4), bounded by [`MAX_UPSCALE_SIDE`] on each side.
    Upscale(u32),
    /// Make the background (the colour around the border) transparent.
    RemoveBackground,
}

pub(crate) fn decode(input: &[u8]) -> anyhow::Result<image::DynamicImage> {
    image::ImageReader::new(Cursor::new(input))
        .with_guessed_format()
        .context("reading the image")?
        .decode()
        .context("the image could not be decoded (PNG, JPG, WEBP, BMP or GIF expected)")
}

/// Applies `op` to an encoded image (PNG, JPG, WEBP, BMP or GIF) and re-encodes it in `format`
/// (`quality` applies to JPG). Background removal keeps an alpha channel in PNG and WEBP and
/// composites onto white in JPG. Errors name the problem: undecodable input, a bad factor.
pub fn transform(
    input: &[u8],
    op: Transform,
    format: Format,
    quality: u8,
) -> anyhow::Result<Vec<u8>> {
    let img = decode(input)?;
    match op {
        Transform::Upscale(factor) => {
            anyhow::ensure!(
                (1..=4).contains(&factor),
                "upscaleFactor must be between 1 and 4, got {factor}"
            );
            let (w, h) = (img.width(), img.height());
            let max = MAX_UPSCALE_SIDE as f64;
            let scale = (factor as f64)
                .min(max / w as f64)
                .min(max / h as f64)
                .max(1.0 / w.min(h) as f64);
            let nw = sat::f64_u32((w as f64 * scale).round()).clamp(1, MAX_UPSCALE_SIDE);
            let nh = sat::f64_u32((h as f64 * scale).round()).clamp(1, MAX_UPSCALE_SIDE);
            let out = image::imageops::resize(
                &img.to_rgb8(),
                nw,
                nh,
                image::imageops::FilterType::Triangle,
            );
            encode(&out, nw, nh, ExtendedColorType::Rgb8, format, quality)
        }
        Transform::RemoveBackground => {
            let rgba = remove_background(&img.to_rgb8());
            let (w, h) = rgba.dimensions();
            if format == Format::Jpg {
                let mut flat = RgbImage::new(w, h);
                for (dst, src) in flat.pixels_mut().zip(rgba.pixels()) {
                    let a = f32::from(src[3]) / 255.0;
                    for (d, s) in dst.0.iter_mut().zip(src.0) {
                        *d = sat::f32_u8((f32::from(s) * a + 255.0 * (1.0 - a)).round());
                    }
                }
                encode(&flat, w, h, ExtendedColorType::Rgb8, format, quality)
            } else {
                encode(&rgba, w, h, ExtendedColorType::Rgba8, format, quality)
            }
        }
    }
}

/// Alpha from the colour distance to the mean border colour, with a soft threshold.
pub(crate) fn remove_background(img: &RgbImage) -> RgbaImage {
    let (w, h) = img.dimensions();
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for (x, y, p) in img.enumerate_pixels() {
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            for (s, c) in sum.iter_mut().zip(p.0) {
                *s += f64::from(c);
            }
            n += 1.0;
        }
    }
    let bg = sum.map(|s| sat::f64_f32(s / n.max(1.0)));
    let mut out = RgbaImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(img.pixels()) {
        let d2: f32 = src
            .0
            .iter()
            .zip(bg)
            .map(|(c, b)| (f32::from(*c) - b).powi(2))
            .sum();
        let d = d2.sqrt();
        let alpha = ((d - 24.0) / 40.0).clamp(0.0, 1.0);
        let [r, g, b] = src.0;
        *dst = image::Rgba([r, g, b, sat::f32_u8((alpha * 255.0).round())]);
    }
    out
}

const HUE_NAMES: [(f32, &str); 8] = [
    (15.0, "red"),
    (45.0, "orange"),
    (70.0, "golden"),
    (160.0, "green"),
    (200.0, "teal"),
    (255.0, "blue"),
    (290.0, "violet"),
    (335.0, "pink"),
];

/// A deterministic one-sentence caption from the image's statistics: brightness, dominant hue,
/// where the light is, contrast and size. Undecodable input gets a caption saying so.
pub fn caption(input: &[u8]) -> String {
    let img = match decode(input) {
        Ok(img) => img,
        Err(_) => return format!("an image that could not be decoded ({} bytes)", input.len()),
    };
    // Statistics over a small thumbnail: cheap and stable.
    let thumb = img
        .thumbnail(64.min(img.width()), 64.min(img.height()))
        .to_rgb8();
    let (tw, th) = thumb.dimensions();
    let (mut top, mut bottom, mut ntop, mut nbottom) = (0f32, 0f32, 0f32, 0f32);
    let (mut lum_sum, mut lum_sq) = (0f32, 0f32);
    let mut hue_weight = [0f32; HUE_NAMES.len()];
    let mut sat_sum = 0f32;
    for (_, y, p) in thumb.enumerate_pixels() {
        let [r, g, b] = [p[0], p[1], p[2]].map(|c| f32::from(c) / 255.0);
        let lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        lum_sum += lum;
        lum_sq += lum * lum;
        if y < th / 2 {
            top += lum;
            ntop += 1.0;
        } else {
            bottom += lum;
            nbottom += 1.0;
        }
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        let chroma = max - min;
        let sat = if max > 0.0 { chroma / max } else { 0.0 };
        sat_sum += sat;
        if chroma > 0.05 {
            let hue = if max == r {
                60.0 * ((g - b) / chroma).rem_euclid(6.0)
            } else if max == g {
                60.0 * ((b - r) / chroma + 2.0)
            } else {
                60.0 * ((r - g) / chroma + 4.0)
            };
            let slot = HUE_NAMES
                .iter()
                .position(|(limit, _)| hue < *limit)
                .unwrap_or(0);
            if let Some(weight) = hue_weight.get_mut(slot) {
                *weight += chroma;
            }
        }
    }
    let n = (tw * th).max(1) as f32;
    let mean = lum_sum / n;
    let contrast = (lum_sq / n - mean * mean).max(0.0).sqrt();
    let saturation = sat_sum / n;
    let brightness = match mean {
        m if m < 0.2 => "dark",
        m if m < 0.4 => "dim",
        m if m < 0.65 => "softly lit",
        _ => "bright",
    };
    let shape = match (img.width(), img.height()) {
        (w, h) if w > h => "landscape-format",
        (w, h) if w < h => "portrait-format",
        _ => "square",
    };
    let tinted = hue_weight.iter().sum::<f32>() / n;
    let tones = if saturation < 0.12 || tinted < 0.03 {
        "muted grey".to_string()
    } else {
        let best = hue_weight
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .and_then(|(i, _)| HUE_NAMES.get(i))
            .map(|(_, name)| *name)
            .unwrap_or("grey");
        best.to_string()
    };
    let (top, bottom) = (top / ntop.max(1.0), bottom / nbottom.max(1.0));
    let light = if top > bottom + 0.08 {
        "a luminous sky above a darker foreground"
    } else if bottom > top + 0.08 {
        "light gathering in the lower half"
    } else {
        "evenly spread light"
    };
    let contrast = if contrast > 0.22 {
        "high contrast"
    } else if contrast > 0.1 {
        "moderate contrast"
    } else {
        "low contrast"
    };
    format!(
        "a {brightness} {shape} picture dominated by {tones} tones, with {light} and {contrast}, {}x{} pixels",
        img.width(),
        img.height()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> image::DynamicImage {
        image::load_from_memory(bytes).expect("decodes")
    }

    #[test]
    fn formats_parse_case_insensitively() {
        assert_eq!(Format::parse("PNG"), Some(Format::Png));
        assert_eq!(Format::parse("jpeg"), Some(Format::Jpg));
        assert_eq!(Format::parse("Jpg"), Some(Format::Jpg));
        assert_eq!(Format::parse("webP"), Some(Format::Webp));
        assert_eq!(Format::parse("gif"), None);
        assert_eq!(Format::parse(""), None);
        assert_eq!(Format::Jpg.mime(), "image/jpeg");
        assert_eq!(Format::Webp.extension(), "webp");
    }

    #[test]
    fn renders_exact_size_in_each_format() {
        for (format, expected) in [
            (Format::Png, image::ImageFormat::Png),
            (Format::Jpg, image::ImageFormat::Jpeg),
            (Format::Webp, image::ImageFormat::WebP),
        ] {
            for (w, h) in [(128, 128), (320, 192), (192, 448), (1, 1), (7, 3)] {
                let bytes = render("a castle on a hill", 7, w, h, format, 80);
                assert_eq!(image::guess_format(&bytes).unwrap(), expected);
                assert_eq!(Format::sniff(&bytes), Some(format));
                let img = decoded(&bytes);
                assert_eq!((img.width(), img.height()), (w, h), "{format:?}");
            }
        }
    }

    #[test]
    fn deterministic_for_prompt_and_seed() {
        for format in [Format::Png, Format::Jpg, Format::Webp] {
            let a = render("misty mountains", 1234, 256, 192, format, 90);
            let b = render("misty mountains", 1234, 256, 192, format, 90);
            assert_eq!(a, b, "{format:?}");
        }
    }

    #[test]
    fn different_seeds_and_prompts_differ() {
        let base = decoded(&render("misty mountains", 1, 128, 128, Format::Png, 90)).to_rgb8();
        let seed = decoded(&render("misty mountains", 2, 128, 128, Format::Png, 90)).to_rgb8();
        let prompt = decoded(&render("misty mountain", 1, 128, 128, Format::Png, 90)).to_rgb8();
        let differing =
            |a: &RgbImage, b: &RgbImage| a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(differing(&base, &seed) > 128 * 128 / 4);
        assert!(differing(&base, &prompt) > 128 * 128 / 4);
    }

    #[test]
    fn pictures_are_not_flat() {
        for seed in 0..12 {
            let img = decoded(&render("landscape", seed, 128, 128, Format::Png, 90)).to_rgb8();
            let distinct: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
            assert!(
                distinct.len() > 200,
                "seed {seed}: {} colours",
                distinct.len()
            );
            // Vertical structure: sky, ridges and water give rows of clearly different brightness.
            let rows: Vec<f64> = (0..128)
                .map(|y| {
                    (0..128)
                        .map(|x| {
                            let p = img.get_pixel(x, y);
                            f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2])
                        })
                        .sum::<f64>()
                        / 128.0
                })
                .collect();
            let mean = rows.iter().sum::<f64>() / 128.0;
            let var = rows.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 128.0;
            assert!(
                var.sqrt() > 20.0,
                "seed {seed}: row deviation {}",
                var.sqrt()
            );
        }
    }

    #[test]
    fn jpg_quality_changes_the_bytes() {
        let low = render("dunes in the desert", 3, 256, 256, Format::Jpg, 20);
        let high = render("dunes in the desert", 3, 256, 256, Format::Jpg, 99);
        assert!(low.len() < high.len(), "{} vs {}", low.len(), high.len());
    }

    #[test]
    fn placeholders_are_valid_and_cached() {
        for format in [Format::Png, Format::Jpg, Format::Webp] {
            let p = placeholder(format);
            assert_eq!(Format::sniff(p), Some(format));
            let img = decoded(p);
            assert_eq!((img.width(), img.height()), (8, 8));
            assert!(std::ptr::eq(p, placeholder(format)));
        }
    }

    #[test]
    fn upscale_multiplies_and_bounds_the_size() {
        let src = render("pines", 5, 128, 64, Format::Png, 90);
        let out = transform(&src, Transform::Upscale(2), Format::Jpg, 90).unwrap();
        let img = decoded(&out);
        assert_eq!((img.width(), img.height()), (256, 128));
        assert_eq!(Format::sniff(&out), Some(Format::Jpg));
        let big = render("pines", 5, 1536, 512, Format::Jpg, 60);
        let out = transform(&big, Transform::Upscale(4), Format::Png, 90).unwrap();
        let img = decoded(&out);
        assert_eq!((img.width(), img.height()), (4096, 1365));
        let err = transform(&src, Transform::Upscale(0), Format::Png, 90).unwrap_err();
        assert!(err.to_string().contains("upscaleFactor"), "{err}");
    }

    #[test]
    fn background_removal_makes_the_border_transparent() {
        // A white square on a flat blue background.
        let mut img = RgbImage::from_pixel(64, 64, image::Rgb([30, 60, 200]));
        for y in 20..44 {
            for x in 20..44 {
                img.put_pixel(x, y, image::Rgb([250, 250, 250]));
            }
        }
        let png = encode(&img, 64, 64, ExtendedColorType::Rgb8, Format::Png, 90).unwrap();
        let out = transform(&png, Transform::RemoveBackground, Format::Png, 90).unwrap();
        let rgba = decoded(&out).to_rgba8();
        assert_eq!(rgba.get_pixel(0, 0)[3], 0);
        assert_eq!(rgba.get_pixel(32, 32)[3], 255);
        let webp = transform(&png, Transform::RemoveBackground, Format::Webp, 90).unwrap();
        assert_eq!(decoded(&webp).to_rgba8().get_pixel(1, 1)[3], 0);
        // JPG has no alpha: the background becomes white.
        let jpg = transform(&png, Transform::RemoveBackground, Format::Jpg, 95).unwrap();
        let p = *decoded(&jpg).to_rgb8().get_pixel(2, 2);
        assert!(p.0.iter().all(|c| *c > 235), "{p:?}");
    }

    #[test]
    fn transform_rejects_garbage() {
        let err = transform(b"not an image", Transform::Upscale(2), Format::Png, 90).unwrap_err();
        assert!(format!("{err:#}").contains("decoded"), "{err:#}");
    }

    #[test]
    fn captions_are_deterministic_and_descriptive() {
        let a = render("a sunset over the lake", 9, 256, 128, Format::Png, 90);
        let c1 = caption(&a);
        assert_eq!(c1, caption(&a));
        assert!(c1.contains("landscape-format"), "{c1}");
        assert!(c1.ends_with("256x128 pixels"), "{c1}");
        let dark = RgbImage::from_pixel(32, 48, image::Rgb([10, 10, 12]));
        let dark = encode(&dark, 32, 48, ExtendedColorType::Rgb8, Format::Png, 90).unwrap();
        let c2 = caption(&dark);
        assert!(c2.starts_with("a dark portrait-format picture"), "{c2}");
        assert!(c2.contains("muted grey"), "{c2}");
        assert!(caption(b"garbage").contains("could not be decoded"));
    }
}
