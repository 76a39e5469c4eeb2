//! Workhorse services over a Store: dispatcher, scheduler, rescuer, cleaner, events.
