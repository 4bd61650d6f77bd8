//! Role transitions. Every change of a member's role goes through one of
//! these methods, so that `primary` and `follower` depend on this shared
//! layer and not on each other:
//!
//! * `joined`: Joining → Follower (the primary admitted us);
//! * `adopt`: → Follower of a given claim (a better claim was heard of, or a
//!   primary steps down);
//! * `promote`: Follower → Primary of a new term (election or handover);
//! * `expel`: → Expelled (the group declared us dead or removed us);
//! * `retire`: → Stopped (destroy).
//!
//! Each rings `Core::claims`, on which the join and metadata retries wait
//! while the group chooses a new primary (so does installing a pulled view
//! of a newer term, in `follower`).

use super::state::{Role, State, CONFIG_KEY};
use super::wire::{Claim, Snapshot};
use super::Core;
use crate::flock::protocol::Update;
use crate::flock::view::Member;

impl Core {
    /// Our join was accepted: take the primary's state (without reporting
    /// differences: upstream reports nothing to the joiner itself) and
    /// follow it.
    pub(super) fn joined(&self, s: &mut State, snap: Snapshot) {
        s.install_quiet(snap);
        s.role = Role::Follower;
        s.last_contact = std::time::Instant::now();
        s.contacted = true;
        self.claims.notify();
    }

    /// Follows `claim` from now on (a primary that steps down comes here too);
    /// the view is pulled from the new primary right away.
    pub(super) fn adopt(&self, s: &mut State, claim: Claim) {
        crate::info!(
            "flock centralized member ({}, {}) follows ({}, {}) of term {}",
            self.me.address,
            self.provider_id,
            claim.primary.address,
            claim.primary.provider_id,
            claim.term
        );
        s.note_term(claim.term);
        s.claim = claim;
        s.role = Role::Follower;
        s.electing = false;
        s.announce = false;
        s.sync_wanted = true;
        s.contact();
        self.kick(s);
        self.claims.notify();
    }

    /// Becomes the primary of a new term. `old` is the previous primary and
    /// why it goes (it died, or it handed over and left). The followers learn
    /// of the new term from our first pings (sent at once) and pull the view.
    pub(super) fn promote(&self, s: &mut State, old: Option<(Member, Update)>) {
        let term = s.max_term_seen.max(s.claim.term) + 1;
        s.max_term_seen = term;
        s.claim = Claim { term, primary: self.me.clone() };
        s.role = Role::Primary;
        s.electing = false;
        s.check_primary_now = false;
        s.sync_wanted = false;
        s.rejoin_wanted = false;
        s.announce = true;
        if let Some((m, why)) = old {
            s.remove_member(&m, why);
        }
        // Joiners find the primary through `__config__`.
        s.set_metadata(CONFIG_KEY, Some(&self.cfg.effective_text(&self.me)));
        s.version += 1;
        crate::info!("flock centralized member ({}, {}) is the primary of term {term}", self.me.address, self.provider_id);
        super::join::tell_waiting_joiners(self, s);
        self.kick(s);
        self.claims.notify();
    }

    /// Marks this member as thrown out of the group.
    pub(super) fn expel(&self, s: &mut State, why: &str) {
        if s.role == Role::Expelled || s.role == Role::Stopped {
            return;
        }
        s.role = Role::Expelled;
        s.electing = false;
        crate::error!(
            "flock centralized member ({}, {}) {why}; it no longer takes part in the group: destroy the provider and \
             register it again to rejoin",
            self.me.address,
            self.provider_id
        );
        self.kick(s);
        self.claims.notify();
    }

    /// Destroy: this member stops taking part; returns the role it had.
    pub(super) fn retire(&self, s: &mut State) -> Role {
        let role = s.role;
        s.role = Role::Stopped;
        self.kick(s);
        self.claims.notify();
        role
    }
}
