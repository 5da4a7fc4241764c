//! Procedural video: a deterministic animation (a gradient with a few discs, panning in a
//! direction drawn from the seed and prompt) encoded as H.264 ([`super::h264`]) in an MP4 or
//! MOV container (the `mp4` crate; MOV is the same ISO-BMFF with the QuickTime `qt  ` brand).
//!
//! WEBM is not produced: it needs VP8/VP9/AV1, and no pure-Rust encoder for them is cheap
//! enough to build here; the task refuses it (see `tasks/video_inference.rs`).

use std::io::Cursor;

use bytes::Bytes;

use super::h264::{Picture, Stream};
use super::mix;

/// A video container the emulator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// ISO-BMFF with the `isom` brand.
    Mp4,
    /// QuickTime: ISO-BMFF with the `qt  ` brand.
    Mov,
}

impl Container {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Mov => "mov",
        }
    }
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::Mov => "video/quicktime",
        }
    }
}

/// What to render.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpec {
    /// The prompt (drives colours and motion with the seed).
    pub prompt: String,
    /// The seed.
    pub seed: u64,
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Number of frames (duration × fps).
    pub frames: u32,
    /// The container.
    pub container: Container,
    /// Background removed: the discs on black instead of the gradient (H.264 has no alpha).
    pub matte: bool,
}

/// Key frames are raw samples (1.5 bytes a pixel); past this budget for all of them, they are
/// spaced further apart than [`KEY_INTERVAL_S`], so that big or long clips stay small.
const KEY_BUDGET_BYTES: usize = 8 * 1024 * 1024;

/// Seconds between key frames (each one redraws the scene; in between it pans).
const KEY_INTERVAL_S: u32 = 2;

/// Renders and encodes a video. Deterministic: the same spec gives the same bytes.
pub fn render(spec: &VideoSpec) -> Result<Bytes, String> {
    let (w, h) = (spec.width.max(2) & !1, spec.height.max(2) & !1);
    let stream = Stream::new(w, h, spec.fps.max(1));
    let key_bytes = (w.div_ceil(16) * h.div_ceil(16)) as usize * 384;
    let frames = spec.frames.max(1);
    let by_budget = u32::try_from(KEY_BUDGET_BYTES / key_bytes.max(1)).unwrap_or(u32::MAX);
    let keys = frames
        .div_ceil(spec.fps.max(1) * KEY_INTERVAL_S)
        .min(by_budget)
        .max(1);
    let gop = frames.div_ceil(keys);
    let base = mix(spec.seed, &spec.prompt);
    // Pan one or two pixels a frame in a direction of the seed's choosing (never still).
    let pan = |k: u32| {
        let r = mix(base, &k.to_string());
        let step = |bits: u64| i32::try_from(bits % 5).unwrap_or(0) - 2;
        let (dx, dy) = (step(r), step(r >> 8));
        if dx == 0 && dy == 0 { (1, 0) } else { (dx, dy) }
    };

    let sps = stream.sps();
    let pps = stream.pps();
    let timescale = spec.fps.max(1) * 1000;
    let config = mp4::Mp4Config {
        major_brand: brand(spec.container),
        minor_version: 512,
        compatible_brands: match spec.container {
            Container::Mp4 => vec![
                fourcc(*b"isom"),
                fourcc(*b"iso2"),
                fourcc(*b"avc1"),
                fourcc(*b"mp41"),
            ],
            Container::Mov => vec![fourcc(*b"qt  ")],
        },
        // The movie's timescale is the track's, so that the movie duration is exact too (the
        // writer converts each sample's duration with an integer division).
        timescale,
    };
    let err = |e: mp4::Error| format!("mp4: {e}");
    let mut writer = mp4::Mp4Writer::write_start(Cursor::new(Vec::new()), &config).map_err(err)?;
    writer
        .add_track(&mp4::TrackConfig {
            track_type: mp4::TrackType::Video,
            timescale,
            language: "und".into(),
            media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                width: u16::try_from(w).map_err(|_| "width too large".to_string())?,
                height: u16::try_from(h).map_err(|_| "height too large".to_string())?,
                seq_param_set: sps,
                pic_param_set: pps,
            }),
        })
        .map_err(err)?;
    for i in 0..frames {
        let (key, offset) = (i / gop, i % gop);
        let nal = if offset == 0 {
            stream.idr(&scene(w, h, base, key, spec.matte), key)
        } else {
            let (dx, dy) = pan(key);
            stream.shifted(offset, dx, dy)
        };
        // Samples are length-prefixed NAL units (the avcC box says 4-byte lengths).
        let mut data = Vec::with_capacity(nal.len() + 4);
        data.extend_from_slice(&u32::try_from(nal.len()).unwrap_or(0).to_be_bytes());
        data.extend_from_slice(&nal);
        writer
            .write_sample(
                1,
                &mp4::Mp4Sample {
                    start_time: u64::from(i) * 1000,
                    duration: 1000,
                    rendering_offset: 0,
                    is_sync: offset == 0,
                    bytes: Bytes::from(data),
                },
            )
            .map_err(err)?;
    }
    writer.write_end().map_err(err)?;
    Ok(Bytes::from(writer.into_writer().into_inner()))
}

fn fourcc(b: [u8; 4]) -> mp4::FourCC {
    mp4::FourCC::from(u32::from_be_bytes(b))
}

fn brand(c: Container) -> mp4::FourCC {
    match c {
        Container::Mp4 => fourcc(*b"isom"),
        Container::Mov => fourcc(*b"qt  "),
    }
}

/// Key frame `k` of the scene: a diagonal gradient in two colours of the seed's choosing and
/// three soft discs, as Y'CbCr.
fn scene(w: u32, h: u32, base: u64, k: u32, matte: bool) -> Picture {
    let mut pic = Picture::new(w, h);
    let r = mix(base, &format!("key{k}"));
    let byte = |shift: u32| f32::from(u8::try_from((r >> shift) & 0xFF).unwrap_or(128));
    let (cb0, cr0, cb1, cr1) = (byte(0), byte(8), byte(16), byte(24));
    let discs: Vec<(f32, f32, f32, f32)> = (0..3u32)
        .map(|d| {
            let q = mix(r, &d.to_string());
            let frac =
                |shift: u32| f32::from(u16::try_from((q >> shift) & 0xFFFF).unwrap_or(0)) / 65535.0;
            (
                frac(0) * w as f32,
                frac(16) * h as f32,
                (0.08 + frac(32) * 0.15) * w.min(h) as f32,
                40.0 + frac(48) * 200.0,
            )
        })
        .collect();
    let stride = pic.mbs_w * 16;
    let (fw, fh) = (w.max(1) as f32, h.max(1) as f32);
    for (idx, y) in pic.y.iter_mut().enumerate() {
        let (px, py) = ((idx % stride) as f32, (idx / stride) as f32);
        let t = (px / fw + py / fh) * 0.5;
        let mut v = if matte { 16.0 } else { 40.0 + t * 150.0 };
        for &(cx, cy, radius, luma) in &discs {
            let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
            if d < radius {
                v = v * (d / radius) + luma * (1.0 - d / radius);
            }
        }
        *y = sample(v.clamp(16.0, 235.0));
    }
    let cstride = pic.mbs_w * 8;
    for (idx, (cb, cr)) in pic.cb.iter_mut().zip(pic.cr.iter_mut()).enumerate() {
        let (px, py) = ((idx % cstride) as f32 * 2.0, (idx / cstride) as f32 * 2.0);
        let t = ((px / fw + py / fh) * 0.5).clamp(0.0, 1.0);
        // Keep chroma near neutral so the colours are not garish.
        let lerp = |a: f32, b: f32| {
            if matte {
                128.0
            } else {
                128.0 + ((a + (b - a) * t) - 128.0) * 0.5
            }
        };
        *cb = sample(lerp(cb0, cb1).clamp(16.0, 240.0));
        *cr = sample(lerp(cr0, cr1).clamp(16.0, 240.0));
    }
    pic
}

/// A sample value already clamped to a `u8`'s range, rounded down.
fn sample(v: f32) -> u8 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "callers clamp to 0..=255; the cast saturates anyway"
    )]
    let s = v as u8;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(container: Container) -> VideoSpec {
        VideoSpec {
            prompt: "a paper boat".into(),
            seed: 7,
            width: 320,
            height: 240,
            fps: 12,
            frames: 24,
            container,
            matte: false,
        }
    }

    #[test]
    fn mp4_reads_back_with_the_requested_shape() {
        let bytes = render(&spec(Container::Mp4)).unwrap();
        let size = bytes.len() as u64;
        let mp4 = mp4::Mp4Reader::read_header(Cursor::new(bytes), size).unwrap();
        assert_eq!(mp4.ftyp.major_brand.to_string(), "isom");
        let track = mp4.tracks().values().next().unwrap();
        assert_eq!((track.width(), track.height()), (320, 240));
        assert_eq!(track.sample_count(), 24);
        assert_eq!(track.duration().as_millis(), 2000);
        assert_eq!(track.media_type().unwrap(), mp4::MediaType::H264);
    }

    #[test]
    fn mov_has_the_quicktime_brand_and_same_determinism() {
        let a = render(&spec(Container::Mov)).unwrap();
        let b = render(&spec(Container::Mov)).unwrap();
        assert_eq!(a, b);
        let size = a.len() as u64;
        let mp4 = mp4::Mp4Reader::read_header(Cursor::new(a), size).unwrap();
        assert_eq!(mp4.ftyp.major_brand.to_string(), "qt  ");
        let other = render(&VideoSpec {
            seed: 8,
            ..spec(Container::Mov)
        })
        .unwrap();
        assert_ne!(b, other);
    }

    #[test]
    fn odd_sizes_are_cropped_and_big_clips_stay_small() {
        let bytes = render(&VideoSpec {
            width: 130,
            height: 98,
            ..spec(Container::Mp4)
        })
        .unwrap();
        let size = bytes.len() as u64;
        let mp4 = mp4::Mp4Reader::read_header(Cursor::new(bytes), size).unwrap();
        let track = mp4.tracks().values().next().unwrap();
        assert_eq!((track.width(), track.height()), (130, 98));
        let long = render(&VideoSpec {
            width: 1920,
            height: 1080,
            fps: 30,
            frames: 30 * 20,
            ..spec(Container::Mp4)
        })
        .unwrap();
        assert!(long.len() < 12 * 1024 * 1024, "{}", long.len());
    }
}
