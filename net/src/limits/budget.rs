//! The bytes of incomplete frames that connections not yet in play may hold
//! together. Before login completes nobody is known, so a crowd of
//! connections each sending most of a large frame must not be able to take
//! the server's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use thiserror::Error;

/// What a connection may hold without drawing on the budget: the room of
/// one read, which every connection has anyway. Legitimate pre-play frames
/// are smaller, so a login never depends on the budget having room.
pub const UNCHARGED: usize = 2 * 1024;

#[derive(Debug)]
pub struct PrePlayBudget {
    limit: usize,
    used: AtomicUsize,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("the pre-play buffer budget of {limit} bytes is spent")]
pub struct BudgetSpent {
    pub limit: usize,
}

impl PrePlayBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// One connection's part of the budget; dropping it gives the bytes back.
#[derive(Debug)]
pub struct Share {
    budget: Arc<PrePlayBudget>,
    charged: usize,
}

impl Share {
    pub fn new(budget: Arc<PrePlayBudget>) -> Self {
        Self { budget, charged: 0 }
    }

    /// The connection now holds `held` bytes of an incomplete frame. Fails,
    /// leaving the share as it was, if that would take the budget over its
    /// limit.
    pub fn hold(&mut self, held: usize) -> Result<(), BudgetSpent> {
        let charge = held.saturating_sub(UNCHARGED);
        let used = &self.budget.used;
        if charge <= self.charged {
            used.fetch_sub(self.charged - charge, Ordering::Relaxed);
        } else {
            let more = charge - self.charged;
            let limit = self.budget.limit;
            used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                now.checked_add(more).filter(|after| *after <= limit)
            })
            .map_err(|_| BudgetSpent { limit })?;
        }
        self.charged = charge;
        Ok(())
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.charged, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_draw_on_one_budget_and_give_back() {
        let budget = PrePlayBudget::new(10_000);
        let mut a = Share::new(budget.clone());
        let mut b = Share::new(budget.clone());
        a.hold(UNCHARGED + 6_000).expect("room");
        assert_eq!(budget.used(), 6_000);
        assert_eq!(
            b.hold(UNCHARGED + 5_000),
            Err(BudgetSpent { limit: 10_000 })
        );
        assert_eq!(budget.used(), 6_000, "a refused share takes nothing");
        b.hold(UNCHARGED + 4_000).expect("exactly the rest");
        assert_eq!(budget.used(), 10_000);
        a.hold(10).expect("shrinking always works");
        assert_eq!(budget.used(), 4_000);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn small_frames_never_need_the_budget() {
        let budget = PrePlayBudget::new(0);
        let mut share = Share::new(budget.clone());
        share.hold(UNCHARGED).expect("uncharged");
        assert!(share.hold(UNCHARGED + 1).is_err());
        assert_eq!(budget.used(), 0);
    }
}
