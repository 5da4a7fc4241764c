//! A minimal H.264 (constrained baseline, CAVLC) bitstream writer for procedural video.
//!
//! Why hand-written: the pure-Rust encoder crate (`less-avc`) writes every frame as an IDR
//! picture of raw `I_PCM` macroblocks with `max_num_ref_frames = 0` fixed in a private SPS, so a
//! 5-second 640x360 clip would be about 41 MB. This writer keeps its `I_PCM` key frames (the
//! picture, uncompressed) and adds what a panning animation needs: P frames whose macroblocks
//! are all `P_L0_16x16` with one motion vector and no residual, about 5 bits per macroblock.
//! Every decoder can play it: there is no transform, no entropy table beyond Exp-Golomb codes,
//! and the deblocking filter is switched off.

/// An 8-bit 4:2:0 picture whose dimensions are padded up to whole macroblocks.
pub(crate) struct Picture {
    /// Width in macroblocks.
    pub mbs_w: usize,
    /// Luma, `mbs_w*16` by `mbs_h*16`, row-major.
    pub y: Vec<u8>,
    /// Cb, `mbs_w*8` by `mbs_h*8`.
    pub cb: Vec<u8>,
    /// Cr, `mbs_w*8` by `mbs_h*8`.
    pub cr: Vec<u8>,
}

impl Picture {
    /// A mid-grey picture covering `width` x `height` pixels.
    pub fn new(width: u32, height: u32) -> Self {
        let mbs_w = width.div_ceil(16) as usize;
        let mbs_h = height.div_ceil(16) as usize;
        let luma = mbs_w * 16 * mbs_h * 16;
        Self {
            mbs_w,
            y: vec![128; luma],
            cb: vec![128; luma / 4],
            cr: vec![128; luma / 4],
        }
    }
}

/// Bits, most significant first, as the H.264 syntax writes them.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = it is full or there is none).
    used: u8,
}

impl Bits {
    fn bit(&mut self, b: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if b && let Some(last) = self.bytes.last_mut() {
            *last |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// `u(n)`: the `n` low bits of `v`.
    fn u(&mut self, n: u32, v: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// `ue(v)`: unsigned Exp-Golomb.
    fn ue(&mut self, v: u32) {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        for _ in 1..len {
            self.bit(false);
        }
        for i in (0..len).rev() {
            self.bit((x >> i) & 1 == 1);
        }
    }

    /// `se(v)`: signed Exp-Golomb (k > 0 → 2k-1, k ≤ 0 → -2k).
    fn se(&mut self, v: i32) {
        let mapped = if v > 0 {
            v.unsigned_abs() * 2 - 1
        } else {
            v.unsigned_abs() * 2
        };
        self.ue(mapped);
    }

    fn align_zero(&mut self) {
        self.used = 0;
    }

    /// `rbsp_trailing_bits()`: a stop bit, then zeros to the byte boundary.
    fn trailing(mut self) -> Vec<u8> {
        self.bit(true);
        self.bytes
    }

    fn extend_aligned(&mut self, data: &[u8]) {
        debug_assert_eq!(self.used, 0);
        self.bytes.extend_from_slice(data);
    }
}

/// A NAL unit (header byte, then the RBSP with emulation prevention), without a start code or
/// length prefix.
fn nal(ref_idc: u8, unit_type: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    out.push((ref_idc << 5) | unit_type);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// log2 of MaxFrameNum: frame_num counts frames since the last IDR picture (wrapping is fine).
const LOG2_MAX_FRAME_NUM: u32 = 16;

/// The stream's parameters: what the SPS and PPS say.
pub(crate) struct Stream {
    width: u32,
    height: u32,
    mbs_w: usize,
    mbs_h: usize,
    fps: u32,
}

impl Stream {
    /// A stream of `width` x `height` (even) pictures at `fps` frames per second.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width,
            height,
            mbs_w: width.div_ceil(16) as usize,
            mbs_h: height.div_ceil(16) as usize,
            fps,
        }
    }

    fn level_idc(&self) -> u8 {
        // The smallest level whose frame size (MaxFS, in macroblocks) holds the picture.
        match self.mbs_w * self.mbs_h {
            0..=396 => 21,
            397..=1620 => 31,
            1621..=8192 => 40,
            8193..=22080 => 50,
            22081..=36864 => 51,
            _ => 60,
        }
    }

    /// The sequence parameter set NAL unit.
    pub fn sps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        b.u(8, 66); // profile_idc: Baseline
        b.u(8, 0xC0); // constraint_set0 and set1: constrained baseline, decodable by Main too
        b.u(8, u32::from(self.level_idc()));
        b.ue(0); // seq_parameter_set_id
        b.ue(LOG2_MAX_FRAME_NUM - 4);
        b.ue(2); // pic_order_cnt_type 2: output order is decoding order (no B frames)
        b.ue(1); // max_num_ref_frames
        b.bit(false); // gaps_in_frame_num_value_allowed_flag
        b.ue(u32::try_from(self.mbs_w).unwrap_or(1).saturating_sub(1));
        b.ue(u32::try_from(self.mbs_h).unwrap_or(1).saturating_sub(1));
        b.bit(true); // frame_mbs_only_flag
        b.bit(true); // direct_8x8_inference_flag
        let pad_w = u32::try_from(self.mbs_w * 16).unwrap_or(0);
        let pad_h = u32::try_from(self.mbs_h * 16).unwrap_or(0);
        let (crop_r, crop_b) = (
            pad_w.saturating_sub(self.width) / 2,
            pad_h.saturating_sub(self.height) / 2,
        );
        if crop_r > 0 || crop_b > 0 {
            b.bit(true); // frame_cropping_flag, offsets in 2-pixel units for 4:2:0
            b.ue(0);
            b.ue(crop_r);
            b.ue(0);
            b.ue(crop_b);
        } else {
            b.bit(false);
        }
        b.bit(true); // vui_parameters_present_flag
        b.bit(false); // aspect_ratio_info_present_flag
        b.bit(false); // overscan_info_present_flag
        b.bit(false); // video_signal_type_present_flag
        b.bit(false); // chroma_loc_info_present_flag
        b.bit(true); // timing_info_present_flag
        b.u(32, 1); // num_units_in_tick
        b.u(32, self.fps * 2); // time_scale (two ticks per frame)
        b.bit(true); // fixed_frame_rate_flag
        b.bit(false); // nal_hrd_parameters_present_flag
        b.bit(false); // vcl_hrd_parameters_present_flag
        b.bit(false); // pic_struct_present_flag
        b.bit(true); // bitstream_restriction_flag: lets decoders output each frame at once
        b.bit(true); // motion_vectors_over_pic_boundaries_flag
        b.ue(0); // max_bytes_per_pic_denom
        b.ue(0); // max_bits_per_mb_denom
        b.ue(16); // log2_max_mv_length_horizontal
        b.ue(16); // log2_max_mv_length_vertical
        b.ue(0); // max_num_reorder_frames
        b.ue(1); // max_dec_frame_buffering
        nal(3, 7, &b.trailing())
    }

    /// The picture parameter set NAL unit.
    pub fn pps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // pic_parameter_set_id
        b.ue(0); // seq_parameter_set_id
        b.bit(false); // entropy_coding_mode_flag: CAVLC
        b.bit(false); // bottom_field_pic_order_in_frame_present_flag
        b.ue(0); // num_slice_groups_minus1
        b.ue(0); // num_ref_idx_l0_default_active_minus1
        b.ue(0); // num_ref_idx_l1_default_active_minus1
        b.bit(false); // weighted_pred_flag
        b.u(2, 0); // weighted_bipred_idc
        b.se(0); // pic_init_qp_minus26
        b.se(0); // pic_init_qs_minus26
        b.se(0); // chroma_qp_index_offset
        b.bit(true); // deblocking_filter_control_present_flag (slices switch it off)
        b.bit(false); // constrained_intra_pred_flag
        b.bit(false); // redundant_pic_cnt_present_flag
        nal(3, 8, &b.trailing())
    }

    /// An IDR picture of `I_PCM` macroblocks (the picture itself, uncompressed).
    /// `idr_pic_id` must differ between consecutive IDR pictures.
    pub fn idr(&self, pic: &Picture, idr_pic_id: u32) -> Vec<u8> {
        let mbs = self.mbs_w * self.mbs_h;
        let mut b = Bits::default();
        b.bytes.reserve(mbs * (384 + 2) + 16);
        b.ue(0); // first_mb_in_slice
        b.ue(7); // slice_type: I (every slice of the picture)
        b.ue(0); // pic_parameter_set_id
        b.u(LOG2_MAX_FRAME_NUM, 0); // frame_num
        b.ue(idr_pic_id % 65536);
        b.bit(false); // no_output_of_prior_pics_flag
        b.bit(false); // long_term_reference_flag
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc
        let stride = self.mbs_w * 16;
        let cstride = self.mbs_w * 8;
        let mut mb = [0u8; 384];
        for row in 0..self.mbs_h {
            for col in 0..self.mbs_w {
                b.ue(25); // mb_type I_PCM
                b.align_zero(); // pcm_alignment_zero_bit
                copy_block(&mut mb[..256], &pic.y, stride, row * 16, col * 16, 16);
                copy_block(&mut mb[256..320], &pic.cb, cstride, row * 8, col * 8, 8);
                copy_block(&mut mb[320..], &pic.cr, cstride, row * 8, col * 8, 8);
                // Early decoders reject zero PCM samples (the first edition forbade them).
                mb.iter_mut().for_each(|s| *s = (*s).max(1));
                b.extend_aligned(&mb);
            }
        }
        nal(3, 5, &b.trailing())
    }

    /// A P picture that is the previous picture moved by (`dx`, `dy`) whole pixels: every
    /// macroblock is `P_L0_16x16` with that motion vector and no residual. `frame_num` counts
    /// pictures since the last IDR picture.
    pub fn shifted(&self, frame_num: u32, dx: i32, dy: i32) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // first_mb_in_slice
        b.ue(5); // slice_type: P (every slice)
        b.ue(0); // pic_parameter_set_id
        b.u(LOG2_MAX_FRAME_NUM, frame_num); // frame_num (wraps modulo MaxFrameNum)
        b.bit(false); // num_ref_idx_active_override_flag
        b.bit(false); // ref_pic_list_modification_flag_l0
        b.bit(false); // adaptive_ref_pic_marking_mode_flag: sliding window
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc
        // Motion vectors are in quarter pixels. A picture moved by (dx, dy) shows, at each
        // point, the reference's sample at (x - dx, y - dy).
        let (mvx, mvy) = (-dx * 4, -dy * 4);
        for i in 0..self.mbs_w * self.mbs_h {
            b.ue(0); // mb_skip_run
            b.ue(0); // mb_type P_L0_16x16
            // Every neighbour has the same vector, so the median prediction is that vector for
            // every macroblock but the first (which has no neighbours and predicts zero).
            let (x, y) = if i == 0 { (mvx, mvy) } else { (0, 0) };
            b.se(x); // mvd_l0 x
            b.se(y); // mvd_l0 y
            b.ue(0); // coded_block_pattern 0 (inter codeNum 0): no residual, no mb_qp_delta
        }
        nal(2, 1, &b.trailing())
    }
}

/// Copies the `n` x `n` block at (`top`, `left`) of a plane with `stride` into `out`, row by
/// row (mid-grey where the plane is short, which a well-formed [`Picture`] never is).
fn copy_block(out: &mut [u8], plane: &[u8], stride: usize, top: usize, left: usize, n: usize) {
    for (r, dst) in out.chunks_mut(n).enumerate() {
        let start = (top + r) * stride + left;
        match plane.get(start..start + n) {
            Some(src) => dst.copy_from_slice(src),
            None => dst.fill(128),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb() {
        let mut b = Bits::default();
        b.ue(0); // 1
        b.ue(1); // 010
        b.ue(2); // 011
        b.ue(3); // 00100
        assert_eq!(b.bytes, vec![0b1010_0110, 0b0100_0000]);
        let mut b = Bits::default();
        b.se(1); // 010
        b.se(-1); // 011
        b.se(0); // 1
        assert_eq!(b.bytes, vec![0b0100_1110]);
    }

    #[test]
    fn emulation_prevention() {
        assert_eq!(
            nal(3, 7, &[0, 0, 1, 0, 0, 0]),
            vec![0x67, 0, 0, 3, 1, 0, 0, 3, 0]
        );
    }

    #[test]
    fn parameter_sets_carry_profile_and_level() {
        let s = Stream::new(320, 240, 24);
        let sps = s.sps();
        assert_eq!(&sps[..4], &[0x67, 66, 0xC0, 21]);
        assert_eq!(s.pps()[0], 0x68);
        let mut pic = Picture::new(320, 240);
        pic.y.fill(0);
        let idr = s.idr(&pic, 0);
        assert_eq!(idr[0], 0x65);
        // Every macroblock's 384 samples are there (zeros raised to 1), plus headers.
        assert!(idr.len() > 300 * 384, "{}", idr.len());
        let p = s.shifted(1, 1, 0);
        assert_eq!(p[0], 0x41);
        assert!(p.len() < 300, "{}", p.len());
    }
}
