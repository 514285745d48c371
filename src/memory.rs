//! How the process's allocator (mimalloc, set by `main` and by the Python extension) uses memory.

/// mimalloc's `mi_option_purge_delay`: its place in mimalloc 3's option enum (libmimalloc-sys names no
/// constant for it; a test checks the enum's layout).
pub const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How memory is used, both measured (figures in docs/perf-log.md, "Session 13"):
/// - freed memory is kept for reuse instead of being returned to the system a second later: the
///   Parquet writer and the Python package's frames free and allocate a few hundred MB per row group,
///   and each return cost page faults on the next one;
/// - transparent huge pages are left as mimalloc asks for them (it advises its arenas): a run touches
///   what it maps, and with 4 KiB pages each random probe of the valuations stage and each step in
///   account order of the write stage was a TLB miss.
pub fn tune() {
    // SAFETY: sets an integer option of the allocator; a plain store of a global option, which
    // mimalloc reads on its next purge (from any thread).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads integer options of the allocator.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        // Options with distinctive defaults pin the enum's layout: os_tag (18) is 100, arena_reserve
        // (23) 1 GiB in KiB, generic_collect (34) 10000, page_max_candidates (37) 4,
        // arena_max_object_size (45) 2 GiB in KiB; purge_delay (15) defaults to 1000 ms in this
        // mimalloc.
        assert_eq!(
            (get(18), get(23), get(34), get(37), get(45)),
            (100, 1 << 20, 10000, 4, 2 << 20)
        );
        assert_eq!(get(super::MI_OPTION_PURGE_DELAY), 1000);
        super::tune();
        assert_eq!(get(super::MI_OPTION_PURGE_DELAY), -1);
    }
}
