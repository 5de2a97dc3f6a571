/**
 * Every size, count and time limit of the storage node, in one place.
 * Each limit is tested at its edge by the module that enforces it.
 * Sections are owned by the subsystem named in their heading; add new limits
 * here rather than as literals in code.
 */

// ---- Store -----------------------------------------------------------------

// ---- MIME indexer ------------------------------------------------------------

// ---- IMAP ----------------------------------------------------------------------

// ---- Login / throttling -----------------------------------------------------------

// ---- Tunnel ------------------------------------------------------------------------
