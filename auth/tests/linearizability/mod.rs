//! A linearizability check for the history of one register (one key), after
//! Wing & Gong: search for an order of the operations that respects real
//! time (an operation that returned before another was invoked comes first)
//! in which every read returns the latest write. Visited states (which
//! operations are placed, and the register's value) are remembered, so
//! histories of a few dozen operations check quickly.
//!
//! An operation that never returned (timed out, or its node crashed) may
//! have taken effect at any time after its invocation, or never: it is
//! optional and bounds nothing. Reads that never returned say nothing and
//! are left out by the caller.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// What an operation did; values are unique per write, `None` is "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read(Option<u64>),
    Write(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub invoked: Duration,
    /// `None`: no answer, so it may or may not have happened.
    pub returned: Option<Duration>,
    pub kind: Kind,
}

/// No order explains the history.
#[derive(Debug)]
pub struct Violation {
    pub ops: Vec<Op>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "no linearization of these {} operations:",
            self.ops.len()
        )?;
        let mut ops = self.ops.clone();
        ops.sort_by_key(|op| op.invoked);
        for op in ops {
            let returned = match op.returned {
                Some(at) => format!("{at:?}"),
                None => "never".to_owned(),
            };
            writeln!(f, "  {:?} .. {returned}: {:?}", op.invoked, op.kind)?;
        }
        Ok(())
    }
}

/// Checks one register's history, which starts from the absent value.
pub fn check(ops: &[Op]) -> Result<(), Violation> {
    assert!(ops.len() <= 64, "histories are kept short for the search");
    let mut search = Search {
        ops,
        failed: HashSet::new(),
    };
    if search.from(0, None) {
        Ok(())
    } else {
        Err(Violation { ops: ops.to_vec() })
    }
}

struct Search<'a> {
    ops: &'a [Op],
    /// States known not to lead to a linearization.
    failed: HashSet<(u64, Option<u64>)>,
}

impl Search<'_> {
    /// Whether the operations not in `placed` can follow, the register
    /// holding `value`.
    fn from(&mut self, placed: u64, value: Option<u64>) -> bool {
        let pending = |i: usize| placed & (1 << i) == 0;
        // Every operation that returned must be placed; the others may be
        // left out (they never happened).
        let horizon = (0..self.ops.len())
            .filter(|&i| pending(i))
            .filter_map(|i| self.ops[i].returned)
            .min();
        let Some(horizon) = horizon else {
            return true;
        };
        if self.failed.contains(&(placed, value)) {
            return false;
        }
        for i in (0..self.ops.len()).filter(|&i| pending(i)) {
            let op = self.ops[i];
            // It cannot go before an operation that returned before it began.
            // Equal times are taken as overlapping.
            if op.invoked > horizon {
                continue;
            }
            let next = match op.kind {
                Kind::Write(written) => Some(written),
                Kind::Read(read) if read == value => value,
                Kind::Read(_) => continue,
            };
            if self.from(placed | (1 << i), next) {
                return true;
            }
        }
        self.failed.insert((placed, value));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(invoked: u64, returned: Option<u64>, kind: Kind) -> Op {
        Op {
            invoked: Duration::from_millis(invoked),
            returned: returned.map(Duration::from_millis),
            kind,
        }
    }

    #[test]
    fn sequential_reads_of_the_latest_write_are_linearizable() {
        let history = [
            op(0, Some(1), Kind::Read(None)),
            op(2, Some(3), Kind::Write(1)),
            op(4, Some(5), Kind::Read(Some(1))),
            op(6, Some(7), Kind::Write(2)),
            op(8, Some(9), Kind::Read(Some(2))),
        ];
        assert!(check(&history).is_ok());
    }

    #[test]
    fn a_stale_read_is_a_violation() {
        let history = [
            op(0, Some(1), Kind::Write(1)),
            op(2, Some(3), Kind::Write(2)),
            op(4, Some(5), Kind::Read(Some(1))),
        ];
        assert!(check(&history).is_err());
        let lost = [
            op(0, Some(1), Kind::Write(1)),
            op(2, Some(3), Kind::Read(None)),
        ];
        assert!(check(&lost).is_err());
    }

    #[test]
    fn overlapping_operations_may_take_either_order() {
        let history = [
            op(0, Some(10), Kind::Write(1)),
            op(1, Some(11), Kind::Write(2)),
            op(12, Some(13), Kind::Read(Some(1))),
            op(14, Some(15), Kind::Read(Some(1))),
        ];
        assert!(check(&history).is_ok());
        // But once a read saw the newer order, a later read cannot go back.
        let flip = [
            op(0, Some(10), Kind::Write(1)),
            op(1, Some(11), Kind::Write(2)),
            op(12, Some(13), Kind::Read(Some(1))),
            op(14, Some(15), Kind::Read(Some(2))),
            op(16, Some(17), Kind::Read(Some(1))),
        ];
        assert!(check(&flip).is_err());
    }

    #[test]
    fn a_write_without_an_answer_may_happen_late_or_never() {
        let late = [
            op(0, None, Kind::Write(1)),
            op(5, Some(6), Kind::Read(None)),
            op(100, Some(101), Kind::Read(Some(1))),
        ];
        assert!(check(&late).is_ok());
        let never = [
            op(0, None, Kind::Write(1)),
            op(5, Some(6), Kind::Read(None)),
        ];
        assert!(check(&never).is_ok());
        // It cannot take effect before it was invoked.
        let early = [
            op(0, Some(1), Kind::Read(Some(1))),
            op(5, None, Kind::Write(1)),
        ];
        assert!(check(&early).is_err());
    }

    #[test]
    fn a_value_nobody_wrote_is_a_violation() {
        let history = [
            op(0, Some(1), Kind::Write(1)),
            op(2, Some(3), Kind::Read(Some(7))),
        ];
        assert!(check(&history).is_err());
    }
}
