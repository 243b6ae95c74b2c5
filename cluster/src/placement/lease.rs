//! Region leases: the rule that keeps two nodes from ticking one region.
//!
//! The replicated table alone cannot guarantee it. A node cut off from the
//! group keeps its old replica, which still names it owner, while the group
//! has long given its regions to someone else. So a node may tick a region
//! only while
//!
//! 1. its replica names it the region's owner, and
//! 2. it holds an unexpired lease from the placement leader, granted *as of*
//!    a log index its replica has applied.
//!
//! A node counts its lease from the moment it *sent* the renewal, so its
//! view of the lease always ends before the leader's. The leader in turn
//! never reassigns a node's regions (`NodeDown`, `Move`) until every lease it
//! granted that node has surely expired — grant time plus lease plus a
//! margin for clock drift — and, having just been elected, until a whole
//! lease period (plus margin) has passed, because a deposed leader may have
//! granted leases it never told anyone about. A deposed leader cannot grant
//! after its successor's election: every grant is preceded by a quorum
//! round (`ensure_linearizable`), and the quorums that confirmed the old
//! leader and elected the new one share a node, which answered the old one
//! first. So the renewal's send time precedes the new leader's election.
//!
//! While the leader waits to reassign a node, it *fences* it: renewals from
//! that node are refused, so the wait ends even if the node is alive and
//! reachable (a false alarm of the failure detector costs that node its
//! regions, never safety). Without the fence a grant could slip between the
//! leader's check and its log append, with an `as_of` before the
//! reassignment. Moving one region (rebalancing) fences only that region:
//! the node's later grants exclude it, so only grants from before the fence
//! cover it, and the move need not wait if the node confirms it released
//! the region (stopped and saved it) after the fence: that releasing
//! incarnation of the node holds every grant covering the region, and a
//! later incarnation only gets grants without it.
//!
//! The `as_of` index covers reassignments already in the leader's log when
//! it granted, including ones appended by earlier leaders and committed
//! later: the node only uses the lease once its replica has applied them,
//! and then it no longer sees itself as owner.
//!
//! Everything here is sans-IO: time is an argument, so the rule can be
//! unit-tested and simulated; the service does the clocks and messages.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::RegionKey;
use crate::transport::NodeId;

/// How long leases last and how much the nodes' clocks may disagree about
/// the length of one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms {
    pub lease: Duration,
    pub drift_margin: Duration,
}

/// One lease a node was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    until: Instant,
    as_of: Option<u64>,
    /// Regions the grant does not cover: they are moving away.
    except: Vec<RegionKey>,
}

/// A node's own leases: whether it may tick now.
#[derive(Debug, Clone)]
pub struct LeaseHolder {
    lease: Duration,
    /// The unexpired grants, newest last. Usually one or two: a grant whose
    /// `as_of` the replica has not applied yet waits here while the previous
    /// one still counts.
    grants: Vec<Grant>,
}

impl LeaseHolder {
    pub fn new(lease: Duration) -> Self {
        Self {
            lease,
            grants: Vec::new(),
        }
    }

    /// The leader granted the renewal this node sent at `sent_at`, once its
    /// replica has applied log entry `as_of`, for all its regions `except`
    /// some.
    pub fn granted(&mut self, sent_at: Instant, as_of: Option<u64>, except: Vec<RegionKey>) {
        let grant = Grant {
            until: sent_at + self.lease,
            as_of,
            except,
        };
        // A newer grant that is usable no later than an older one, and
        // covers at least as much, makes the older one pointless.
        self.grants.retain(|g| {
            let covered = grant.except.iter().all(|r| g.except.contains(r));
            !(g.until <= grant.until && g.as_of >= grant.as_of && covered)
        });
        self.grants.push(grant);
    }

    /// Whether a lease covers `region` at `now`, given the last log index
    /// this node's replica has applied.
    pub fn holds(&self, region: RegionKey, now: Instant, applied: Option<u64>) -> bool {
        self.grants
            .iter()
            .any(|g| now < g.until && g.as_of <= applied && !g.except.contains(&region))
    }

    /// Forgets expired grants.
    pub fn expire(&mut self, now: Instant) {
        self.grants.retain(|g| now < g.until);
    }
}

/// Why the leader did not grant a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node {0} is being fenced: its regions are about to move")]
pub struct Fenced(pub NodeId);

/// The leader's record of the leases it granted.
#[derive(Debug, Clone)]
pub struct LeaseKeeper {
    terms: LeaseTerms,
    /// The term this node leads and when it first noticed leading it.
    leading: Option<(u64, Instant)>,
    /// When each node's last granted lease has surely expired.
    expiries: BTreeMap<NodeId, Instant>,
    /// Nodes whose regions (all of them, or one) are being reassigned,
    /// with how many reassignments are under way.
    fenced: BTreeMap<(NodeId, Option<RegionKey>), usize>,
}

impl LeaseKeeper {
    pub fn new(terms: LeaseTerms) -> Self {
        Self {
            terms,
            leading: None,
            expiries: BTreeMap::new(),
            fenced: BTreeMap::new(),
        }
    }

    fn surely_over(&self, granted: Instant) -> Instant {
        granted + self.terms.lease + self.terms.drift_margin
    }

    /// This node leads `term`, as observed at `now`. The first observation
    /// of a term starts its takeover wait; observing it late only makes the
    /// wait longer.
    pub fn leading(&mut self, term: u64, now: Instant) {
        if self.leading.is_none_or(|(t, _)| t != term) {
            self.leading = Some((term, now));
        }
    }

    /// Grants `node` a lease at `now`, after the leadership was confirmed
    /// by a quorum. The reply's `as_of` must be read after this. Returns the
    /// regions the lease does not cover.
    pub fn grant(&mut self, node: NodeId, now: Instant) -> Result<Vec<RegionKey>, Fenced> {
        let fences = self
            .fenced
            .range((node, None)..=(node, Some(RegionKey::MAX)));
        let mut except = Vec::new();
        for (&(_, region), _) in fences {
            match region {
                None => return Err(Fenced(node)),
                Some(region) => except.push(region),
            }
        }
        let over = self.surely_over(now);
        let expiry = self.expiries.entry(node).or_insert(over);
        *expiry = (*expiry).max(over);
        Ok(except)
    }

    /// Stops granting `node` leases (on `region` only, if given) until as
    /// many `unfence` calls: its regions are about to be reassigned.
    pub fn fence(&mut self, node: NodeId, region: Option<RegionKey>) {
        *self.fenced.entry((node, region)).or_default() += 1;
    }

    /// One reassignment of `node`'s regions is over (committed, or given
    /// up); every grant from now on carries an `as_of` at or past it.
    pub fn unfence(&mut self, node: NodeId, region: Option<RegionKey>) {
        if let Some(count) = self.fenced.get_mut(&(node, region)) {
            *count -= 1;
            if *count == 0 {
                self.fenced.remove(&(node, region));
            }
        }
    }

    /// From when `node`'s regions may be given to others: when both its
    /// last lease and the takeover wait are surely over. `None` while this
    /// node is not known to lead.
    pub fn reassignable_at(&self, node: NodeId) -> Option<Instant> {
        let (_, since) = self.leading?;
        let takeover = self.surely_over(since);
        Some(match self.expiries.get(&node) {
            Some(&expiry) => expiry.max(takeover),
            None => takeover,
        })
    }

    /// Forgets expiries that are over, so the record does not grow with
    /// every node that ever was.
    pub fn expire(&mut self, now: Instant) {
        self.expiries.retain(|_, expiry| now < *expiry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: LeaseTerms = LeaseTerms {
        lease: Duration::from_secs(3),
        drift_margin: Duration::from_millis(200),
    };

    const R: RegionKey = RegionKey { x: 0, z: 0 };
    const OTHER: RegionKey = RegionKey { x: 1, z: 0 };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_lease_counts_from_sending_and_only_once_applied() {
        let t0 = Instant::now();
        let mut holder = LeaseHolder::new(TERMS.lease);
        assert!(!holder.holds(R, t0, Some(10)), "no lease yet");
        holder.granted(t0, Some(5), Vec::new());
        assert!(
            !holder.holds(R, t0 + ms(10), Some(4)),
            "as_of not applied yet"
        );
        assert!(holder.holds(R, t0 + ms(10), Some(5)));
        assert!(holder.holds(R, t0 + ms(2999), Some(5)));
        assert!(
            !holder.holds(R, t0 + ms(3000), Some(5)),
            "expired at send + lease"
        );
    }

    #[test]
    fn an_older_grant_counts_while_a_newer_one_waits_for_its_entries() {
        let t0 = Instant::now();
        let mut holder = LeaseHolder::new(TERMS.lease);
        holder.granted(t0, Some(5), Vec::new());
        holder.granted(t0 + ms(500), Some(9), Vec::new());
        assert!(holder.holds(R, t0 + ms(1000), Some(6)));
        assert!(!holder.holds(R, t0 + ms(3200), Some(6)));
        assert!(holder.holds(R, t0 + ms(3200), Some(9)));
        holder.expire(t0 + ms(3200));
        assert_eq!(holder.grants.len(), 1);
    }

    #[test]
    fn the_leader_waits_out_the_last_grant_and_its_own_takeover() {
        let t0 = Instant::now();
        let mut keeper = LeaseKeeper::new(TERMS);
        let node = NodeId(2);
        assert_eq!(keeper.reassignable_at(node), None, "not leading");
        keeper.leading(4, t0);
        assert_eq!(keeper.reassignable_at(node), Some(t0 + ms(3200)));
        assert_eq!(keeper.grant(node, t0 + ms(5000)), Ok(Vec::new()));
        assert_eq!(keeper.reassignable_at(node), Some(t0 + ms(8200)));
        keeper.leading(4, t0 + ms(9000));
        assert_eq!(
            keeper.reassignable_at(NodeId(3)),
            Some(t0 + ms(3200)),
            "the same term keeps its start"
        );
        keeper.leading(6, t0 + ms(9000));
        assert_eq!(
            keeper.reassignable_at(NodeId(3)),
            Some(t0 + ms(12200)),
            "a new term waits again"
        );
    }

    #[test]
    fn a_fenced_node_gets_no_lease_until_every_fence_is_lifted() {
        let t0 = Instant::now();
        let mut keeper = LeaseKeeper::new(TERMS);
        let node = NodeId(2);
        keeper.fence(node, None);
        keeper.fence(node, None);
        assert_eq!(keeper.grant(node, t0), Err(Fenced(node)));
        keeper.unfence(node, None);
        assert_eq!(keeper.grant(node, t0), Err(Fenced(node)));
        keeper.unfence(node, None);
        assert_eq!(keeper.grant(node, t0), Ok(Vec::new()));
        keeper.unfence(node, None);
        assert_eq!(
            keeper.grant(node, t0),
            Ok(Vec::new()),
            "extra unfences are harmless"
        );
    }

    #[test]
    fn a_region_fence_leaves_that_region_out_of_the_nodes_leases() {
        let t0 = Instant::now();
        let mut keeper = LeaseKeeper::new(TERMS);
        keeper.fence(NodeId(2), Some(R));
        keeper.fence(NodeId(3), Some(OTHER));
        assert_eq!(keeper.grant(NodeId(2), t0), Ok(vec![R]));
        let mut holder = LeaseHolder::new(TERMS.lease);
        holder.granted(t0, None, vec![R]);
        assert!(!holder.holds(R, t0, None));
        assert!(holder.holds(OTHER, t0, None));
        keeper.unfence(NodeId(2), Some(R));
        assert_eq!(keeper.grant(NodeId(2), t0), Ok(Vec::new()));
    }

    #[test]
    fn a_grant_with_exceptions_does_not_replace_one_that_covers_more() {
        let t0 = Instant::now();
        let mut holder = LeaseHolder::new(TERMS.lease);
        holder.granted(t0, Some(1), Vec::new());
        holder.granted(t0 + ms(100), Some(1), vec![R]);
        assert!(
            holder.holds(R, t0 + ms(50), Some(1)),
            "the older grant covers R"
        );
        assert!(!holder.holds(R, t0 + ms(3050), Some(1)));
        assert!(holder.holds(OTHER, t0 + ms(3050), Some(1)));
    }

    #[test]
    fn expiries_are_forgotten_once_over() {
        let t0 = Instant::now();
        let mut keeper = LeaseKeeper::new(TERMS);
        assert_eq!(keeper.grant(NodeId(2), t0), Ok(Vec::new()));
        keeper.expire(t0 + ms(3199));
        assert_eq!(keeper.expiries.len(), 1);
        keeper.expire(t0 + ms(3200));
        assert!(keeper.expiries.is_empty());
    }
}
