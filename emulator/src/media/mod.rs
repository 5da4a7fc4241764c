//! Real media for the video and audio tasks: deterministic (the same seed and prompt give the
//! same bytes), small, and playable by ordinary tools.
//!
//! * [`video`]: a procedural animation as H.264 in MP4 or MOV;
//! * [`audio`]: tones as WAV (`hound`) or FLAC (`flacenc`).

pub mod audio;
mod h264;
pub mod video;

/// A 64-bit hash of a seed and a text (FNV-1a, then a SplitMix64 finaliser): stable across
/// platforms and releases, unlike `std`'s hasher, so generated media stay byte-identical.
pub(crate) fn mix(seed: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}
