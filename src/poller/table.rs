//! The poller's table: a slot per connection it knows (parked, or owned by a thread), each with a
//! generation so that an event for an earlier connection in the same slot is recognised, and the
//! main thread's next planned wake-up.

use std::time::Instant;

use crate::conn::Conn;

/// One entry of the table: a parked connection, or the generation of a busy or free slot.
#[derive(Default)]
pub(super) struct Slot {
    /// Bumped when the slot is freed, so an event for an earlier connection is recognised.
    pub(super) generation: u32,
    /// Some while parked; None while a thread owns the connection, or the slot is free.
    pub(super) conn: Option<Conn>,
    /// An event came while a thread owned the connection: the owner keeps it when it parks it,
    /// and serves it again.
    pub(super) missed: bool,
    /// That event reported the client's hang-up.
    pub(super) missed_hang_up: bool,
}

/// The slots, the free ones' indices, and when the main thread plans to wake.
#[derive(Default)]
pub(super) struct Table {
    pub(super) slots: Vec<Slot>,
    pub(super) free: Vec<u32>,
    /// The main thread's next planned wake-up: a connection parked with an earlier deadline
    /// wakes it (see `Poller::park`).
    pub(super) main_wakes_at: Option<Instant>,
}

impl Table {
    /// A free slot (a new one if none is free): the token of its next connection.
    pub(super) fn reserve(&mut self) -> u64 {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        token(index, self.slots[index as usize].generation)
    }

    /// The slot of a connection its caller holds: the connection's lease keeps that slot, so the
    /// token cannot be stale.
    pub(super) fn held(&mut self, tok: u64) -> &mut Slot {
        let (index, generation) = split(tok);
        let slot = &mut self.slots[index as usize];
        debug_assert_eq!(
            slot.generation, generation,
            "a held connection's slot moved on"
        );
        slot
    }

    /// The slot of the connection token `tok` names; None if the token is stale (its slot was
    /// freed since, and may hold a later connection).
    pub(super) fn slot(&mut self, tok: u64) -> Option<&mut Slot> {
        let (index, generation) = split(tok);
        let slot = self.slots.get_mut(index as usize)?;
        (slot.generation == generation).then_some(slot)
    }

    /// Frees the slot of `tok` unless the token is stale: its generation moves on, so the token
    /// no longer matches.
    pub(super) fn release(&mut self, tok: u64) {
        let Some(slot) = self.slot(tok) else { return };
        slot.generation = slot.generation.wrapping_add(1);
        slot.missed = false;
        slot.missed_hang_up = false;
        self.free.push(split(tok).0);
    }

    /// Notes a parked connection's deadline; true if it is before the main thread's planned
    /// wake-up.
    pub(super) fn due_by(&mut self, d: Option<Instant>) -> bool {
        let Some(d) = d else { return false };
        let earlier = self.main_wakes_at.is_none_or(|w| d < w);
        if earlier {
            self.main_wakes_at = Some(d);
        }
        earlier
    }
}

/// A connection's token: its slot's index and generation.
fn token(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

/// A token's slot index and generation.
fn split(tok: u64) -> (u32, u32) {
    (tok as u32, (tok >> 32) as u32)
}
