-- Peer links between storage nodes: where each node accepts them.
--
-- Invariants:
-- * peer_url is what the node itself announced over its authenticated tunnel
--   (ws:// or wss://), never set by anyone else; NULL until the first announce.
-- * A peer URL is only an address: the link is authenticated by the node's
--   Ed25519 key (public_key), so a wrong or stale URL can fail a dial but never
--   hand mail to another party.
ALTER TABLE nodes ADD COLUMN peer_url TEXT;
