//! A small deterministic generator for the tests that kill processes at random
//! moments: every kill is reproducible from the seed the test prints.

/// A 64-bit linear congruential generator (Knuth's MMIX constants).
#[derive(Clone, Debug)]
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `below` (which must not be 0).
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}
