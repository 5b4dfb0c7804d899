//! Fixed-width decimal renderings built on the stack: the hot path writes a
//! sequence number or shard id per record, and `format!` would allocate.

use std::fmt;

/// ASCII text of a fixed length `N`, built without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedText<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> FixedText<N> {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("built from ASCII only")
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
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}
