//! Chaos mode: at a given rate, Graph requests fail the ways real Graph calls fail under
//! load (429, 503, 504, a reset connection, a slow answer), chosen by a seeded generator
//! so that a failing run can be replayed with the same seed.

/// Chaos settings: the share of Graph requests that fail, and the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chaos {
    /// Between 0 and 1.
    pub rate: f64,
    pub seed: u64,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    TooManyRequests,
    ServiceUnavailable,
    GatewayTimeout,
    ConnectionReset,
    SlowResponse,
}

/// SplitMix64: tiny, seedable, and good enough to pick faults.
#[derive(Debug)]
pub(crate) struct ChaosEngine {
    rate: f64,
    state: u64,
}

impl ChaosEngine {
    pub(crate) fn new(chaos: Chaos) -> Self {
        Self {
            rate: chaos.rate.clamp(0.0, 1.0),
            state: chaos.seed,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.state;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    fn unit(&mut self) -> f64 {
        // 53 random bits into [0, 1).
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for the next request, if any.
    pub(crate) fn draw(&mut self) -> Option<Fault> {
        if self.unit() >= self.rate {
            return None;
        }
        Some(match self.next() % 5 {
            0 => Fault::TooManyRequests,
            1 => Fault::ServiceUnavailable,
            2 => Fault::GatewayTimeout,
            3 => Fault::ConnectionReset,
            _ => Fault::SlowResponse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults_at_about_the_rate() {
        let draw_all = |seed| {
            let mut engine = ChaosEngine::new(Chaos { rate: 0.2, seed });
            (0..2_000).map(|_| engine.draw()).collect::<Vec<_>>()
        };
        let first = draw_all(7);
        assert_eq!(first, draw_all(7));
        assert_ne!(first, draw_all(8));
        let faults = first.iter().filter(|fault| fault.is_some()).count();
        assert!((300..500).contains(&faults), "{faults} faults");
        for kind in [
            Fault::TooManyRequests,
            Fault::ServiceUnavailable,
            Fault::GatewayTimeout,
            Fault::ConnectionReset,
            Fault::SlowResponse,
        ] {
            assert!(first.contains(&Some(kind)));
        }
        let mut never = ChaosEngine::new(Chaos { rate: 0.0, seed: 1 });
        assert!((0..1_000).all(|_| never.draw().is_none()));
    }
}
