//! Fixed-width decimal renderings built on the stack: the hot path writes a
//! sequence number or shard id per record, and `format!` would allocate.

use std::fmt;

/// ASCII text of a fixed length `N`, built without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedText<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> FixedText<N> {
    pub fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        // SAFETY: every constructor writes ASCII only (digits and fixed
        // ASCII prefixes), and ASCII is UTF-8. Checking costed 4% of
        // PutRecords' CPU time (two renderings per record).
        #[allow(unsafe_code)]
        unsafe {
            std::str::from_utf8_unchecked(&self.0)
        }
    }
}

impl<const N: usize> fmt::Display for FixedText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for FixedText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Writes `n` into all of `out`, right-aligned and zero-padded. The caller
/// sizes `out` to hold every value of the field (digits beyond it are cut).
pub(crate) fn write_padded(out: &mut [u8], mut n: u64) {
    let mut digits = out.iter_mut().rev();
    for digit in digits.by_ref() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Most of a sequence number's 56 digits are leading zeros.
    digits.for_each(|digit| *digit = b'0');
}

#[cfg(test)]
mod tests {
    use super::write_padded;

    #[test]
    fn numbers_are_right_aligned_and_zero_padded() {
        let mut out = [b'x'; 6];
        write_padded(&mut out, 4207);
        assert_eq!(&out, b"004207");
        write_padded(&mut out, 0);
        assert_eq!(&out, b"000000");
        write_padded(&mut out, 999_999);
        assert_eq!(&out, b"999999");
    }
}
