pub mod listener; pub mod inbound; pub mod outbox;
