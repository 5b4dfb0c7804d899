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
    // Two digits per division: the epoch alone is 13 digits, rendered for
    // every record of every put (3.4% of PutRecords' CPU one at a time).
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut end = out.len();
    while n >= 10 && end >= 2 {
        let pair = (n % 100) as usize * 2;
        out[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
        n /= 100;
        end -= 2;
    }
    if end > 0 {
        // One digit left (or a single place left for two).
        out[end - 1] = b'0' + (n % 10) as u8;
        end -= 1;
    }
    // Most of a sequence number's 56 digits are leading zeros.
    out[..end].fill(b'0');
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

    proptest::proptest! {
        #[test]
        fn renders_as_format_does(n: u64, width in 1usize..24) {
            let mut out = vec![b'x'; width];
            write_padded(&mut out, n);
            // Digits beyond the width are cut, as documented.
            let full = format!("{n:024}");
            proptest::prop_assert_eq!(&out[..], &full.as_bytes()[24 - width..]);
        }
    }
}
