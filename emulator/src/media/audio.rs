//! Procedural audio: a deterministic melody (music, sound effects) or a syllable-like babble
//! (speech), 16 kHz mono 16-bit, as WAV (`hound`) or FLAC (`flacenc`).
//!
//! MP3 and OGG have no cheap pure-Rust encoder, so those requests get WAV bytes, served as
//! what they are (`audio/wav`, a `.wav` URL): see `tasks/audio_inference.rs`.

use std::io::Cursor;

use bytes::Bytes;

use super::mix;

/// The sample rate of generated audio (small files; speech-band quality is plenty).
pub const SAMPLE_RATE: u32 = 16_000;

/// An audio encoding the emulator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// RIFF WAVE, 16-bit PCM.
    Wav,
    /// FLAC, lossless.
    Flac,
}

impl Encoding {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Flac => "flac",
        }
    }
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Flac => "audio/flac",
        }
    }
}

/// What the audio sounds like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// Notes of a pentatonic scale, a few per second.
    Music,
    /// Short voiced syllables with pauses between words.
    Speech,
}

/// Renders `seconds` of audio for a seed and text. Deterministic.
pub fn samples(text: &str, seed: u64, seconds: f64, voice: Voice) -> Vec<i16> {
    let total = (seconds.max(0.0) * f64::from(SAMPLE_RATE)).round();
    // At most 300 s at 16 kHz (4.8 million samples); the guard keeps the cast exact.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "non-negative, rounded, and bounded by the callers' 300 s cap"
    )]
    let total = total.min(f64::from(u32::MAX)) as usize;
    let base = mix(seed, text);
    let rate = f64::from(SAMPLE_RATE);
    // Notes (or syllables) of 1/4 s for music, 1/8 s for speech.
    let note_len = match voice {
        Voice::Music => SAMPLE_RATE as usize / 4,
        Voice::Speech => SAMPLE_RATE as usize / 8,
    };
    const SCALE: [f64; 5] = [1.0, 9.0 / 8.0, 5.0 / 4.0, 3.0 / 2.0, 5.0 / 3.0];
    let mut out = Vec::with_capacity(total);
    let mut phase = 0.0f64;
    for i in 0..total {
        let n = i / note_len.max(1);
        let r = mix(base, &n.to_string());
        let pos = (i % note_len.max(1)) as f64 / note_len.max(1) as f64;
        let (freq, amp) = match voice {
            Voice::Music => {
                let degree = SCALE.get((r % 5) as usize).copied().unwrap_or(1.0);
                let octave = if (r >> 8).is_multiple_of(3) { 2.0 } else { 1.0 };
                // A plucked envelope: fast attack, exponential decay.
                (220.0 * degree * octave, (1.0 - pos).powi(2) * 0.5)
            }
            Voice::Speech => {
                // One syllable in five is a pause (between words).
                let silent = (r >> 4).is_multiple_of(5);
                let pitch = 110.0 + ((r >> 12) % 60) as f64;
                let env = (std::f64::consts::PI * pos).sin();
                (pitch, if silent { 0.0 } else { env * 0.45 })
            }
        };
        phase += freq / rate;
        phase -= phase.floor();
        let t = std::f64::consts::TAU * phase;
        // A fundamental with two harmonics: less pure than a sine, closer to a voice or string.
        let v = amp * (t.sin() + 0.4 * (2.0 * t).sin() + 0.2 * (3.0 * t).sin()) / 1.6;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "clamped to i16's range first"
        )]
        let s = (v * f64::from(i16::MAX)).clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
        out.push(s);
    }
    out
}

/// Encodes mono 16-bit samples at [`SAMPLE_RATE`].
pub fn encode(samples: &[i16], encoding: Encoding) -> Result<Bytes, String> {
    match encoding {
        Encoding::Wav => wav(samples),
        Encoding::Flac => flac(samples),
    }
}

fn wav(samples: &[i16]) -> Result<Bytes, String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(samples.len() * 2 + 44));
    let mut w = hound::WavWriter::new(&mut cursor, spec).map_err(|e| e.to_string())?;
    for &s in samples {
        w.write_sample(s).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())?;
    Ok(Bytes::from(cursor.into_inner()))
}

fn flac(samples: &[i16]) -> Result<Bytes, String> {
    use flacenc::component::BitRepr as _;
    use flacenc::error::Verify as _;
    let wide: Vec<i32> = samples.iter().map(|&s| i32::from(s)).collect();
    let sample_rate = usize::try_from(SAMPLE_RATE).map_err(|e| e.to_string())?;
    let source = flacenc::source::MemSource::from_samples(&wide, 1, 16, sample_rate);
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| format!("{e:?}"))?;
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| format!("{e:?}"))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| format!("{e:?}"))?;
    Ok(Bytes::from(sink.as_slice().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_has_the_requested_duration_and_is_deterministic() {
        let a = samples("rain on a tin roof", 3, 2.5, Voice::Music);
        assert_eq!(a, samples("rain on a tin roof", 3, 2.5, Voice::Music));
        assert_ne!(a, samples("rain on a tin roof", 4, 2.5, Voice::Music));
        let bytes = encode(&a, Encoding::Wav).unwrap();
        let r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().sample_rate, SAMPLE_RATE);
        assert_eq!(r.duration(), 40_000);
        assert!(a.iter().any(|&s| s.unsigned_abs() > 1000), "audible");
    }

    #[test]
    fn flac_is_smaller_than_wav_and_starts_with_its_magic() {
        let a = samples("hello there", 1, 2.0, Voice::Speech);
        let flac = encode(&a, Encoding::Flac).unwrap();
        let wav = encode(&a, Encoding::Wav).unwrap();
        assert_eq!(&flac[..4], b"fLaC");
        assert!(flac.len() < wav.len());
    }
}
