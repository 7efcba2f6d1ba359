;; The two loops that see every payload byte, as WebAssembly SIMD kernels:
;; masking (RFC 6455 §5.3) and UTF-8 validation (RFC 3629 §4, RFC 6455 §8.1).
;;
;; Not part of any chapter: the reference (solutions/) uses them where
;; WebAssembly SIMD runs; the chapters' plain loops are the fallback and the
;; oracle the property tests compare these with (tests/simd.test.ts).
;; `npm run simd` compiles this file into kernels.wasm.ts, the bytes the
;; reference instantiates; `npm test` checks that those bytes are this file's.
;;
;; Both kernels work on bytes the caller copied into this module's memory:
;; WebAssembly code can read nothing else. lib/simd/index.ts does the copying,
;; in blocks of at most BLOCK (64 KiB, one page) bytes at offset 0.
(module
  (memory (export "memory") 1)

  ;; mask(at, length, key): XORs bytes at..at+length-1 with the masking key
  ;; (RFC 6455 §5.3). `key` is the 4 key bytes as one little-endian word,
  ;; already rotated so that its low byte is the one for the byte at `at`.
  (func (export "mask") (param $at i32) (param $length i32) (param $key i32)
    (local $end i32)
    (local $keys v128)
    (local.set $end (i32.add (local.get $at) (local.get $length)))
    ;; The key four times over: 16 bytes XORed at once. The key repeats every
    ;; 4 bytes, so every 16-byte step starts on key byte 0 again.
    (local.set $keys (i32x4.splat (local.get $key)))
    ;; 64 bytes a turn while they last, then 16, then 4, then bytes.
    (block $done64
      (loop $by64
        (br_if $done64 (i32.gt_u (i32.add (local.get $at) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $at) (v128.xor (v128.load offset=0 (local.get $at)) (local.get $keys)))
        (v128.store offset=16 (local.get $at) (v128.xor (v128.load offset=16 (local.get $at)) (local.get $keys)))
        (v128.store offset=32 (local.get $at) (v128.xor (v128.load offset=32 (local.get $at)) (local.get $keys)))
        (v128.store offset=48 (local.get $at) (v128.xor (v128.load offset=48 (local.get $at)) (local.get $keys)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $by64)))
    (block $done16
      (loop $by16
        (br_if $done16 (i32.gt_u (i32.add (local.get $at) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $at) (v128.xor (v128.load (local.get $at)) (local.get $keys)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $by16)))
    (block $done4
      (loop $by4
        (br_if $done4 (i32.gt_u (i32.add (local.get $at) (i32.const 4)) (local.get $end)))
        (i32.store (local.get $at) (i32.xor (i32.load (local.get $at)) (local.get $key)))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $by4)))
    ;; The last 0 to 3 bytes: key bytes 0, 1, 2 in turn (the low byte first).
    (block $done1
      (loop $by1
        (br_if $done1 (i32.ge_u (local.get $at) (local.get $end)))
        (i32.store8 (local.get $at) (i32.xor (i32.load8_u (local.get $at)) (local.get $key)))
        (local.set $key (i32.shr_u (local.get $key) (i32.const 8)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $by1))))

  ;; plain(at, length, state) → result: checks bytes at..at+length-1 as the
  ;; continuation of a UTF-8 stream (RFC 3629 §4), the same state machine as
  ;; chapter 05's Utf8Validator, so a code point may be cut between calls.
  ;;   state: continuation bytes still needed (bits 0-7), the lowest (bits 8-15)
  ;;          and the highest (bits 16-23) value the next one may take;
  ;;          0x00BF8000 between code points.
  ;;   result ≥ 0: valid so far; the new state, and bit 24 set if every byte
  ;;          was ASCII (then the text needs no UTF-8 decoding: it is Latin-1 too).
  ;;   result < 0: the byte at -result - 1 (from `at`) cannot be there.
  ;; utf8 below is faster on text that is not mostly ASCII, and calls this one
  ;; for what it cannot do: the bytes around a cut, and finding a bad byte.
  (func $plain (param $at i32) (param $length i32) (param $state i32) (result i32)
    (local $i i32)
    (local $end i32)
    (local $stop i32)
    (local $byte i32)
    (local $needed i32)
    (local $lower i32)
    (local $upper i32)
    (local $ascii i32)
    (local.set $i (local.get $at))
    (local.set $end (i32.add (local.get $at) (local.get $length)))
    (local.set $needed (i32.and (local.get $state) (i32.const 0xff)))
    (local.set $lower (i32.and (i32.shr_u (local.get $state) (i32.const 8)) (i32.const 0xff)))
    (local.set $upper (i32.and (i32.shr_u (local.get $state) (i32.const 16)) (i32.const 0xff)))
    (local.set $ascii (i32.const 1))
    (block $finished
      (loop $blocks
        (br_if $finished (i32.ge_u (local.get $i) (local.get $end)))
        ;; Between code points, skip ASCII 64 then 16 bytes at a time: a block
        ;; is all ASCII when no byte has its top bit set (i8x16.bitmask is 0).
        (if (i32.eqz (local.get $needed))
          (then
            (block $not64
              (loop $skip64
                (br_if $not64 (i32.gt_u (i32.add (local.get $i) (i32.const 64)) (local.get $end)))
                (br_if $not64 (i8x16.bitmask
                  (v128.or
                    (v128.or (v128.load offset=0 (local.get $i)) (v128.load offset=16 (local.get $i)))
                    (v128.or (v128.load offset=32 (local.get $i)) (v128.load offset=48 (local.get $i))))))
                (local.set $i (i32.add (local.get $i) (i32.const 64)))
                (br $skip64)))
            (block $not16
              (loop $skip16
                (br_if $not16 (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
                (br_if $not16 (i8x16.bitmask (v128.load (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (br $skip16)))
            (br_if $finished (i32.ge_u (local.get $i) (local.get $end)))))
        ;; Byte by byte to the end of this 16-byte block (or of the input),
        ;; then back to the skipping above.
        (local.set $stop (i32.add (local.get $i) (i32.const 16)))
        (if (i32.gt_u (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
        (loop $bytes
          (local.set $byte (i32.load8_u (local.get $i)))
          (if (local.get $needed)
            (then
              ;; A continuation byte, in the range the lead byte allowed.
              (if (i32.or (i32.lt_u (local.get $byte) (local.get $lower)) (i32.gt_u (local.get $byte) (local.get $upper)))
                (then (return (i32.sub (i32.sub (local.get $at) (local.get $i)) (i32.const 1)))))
              (local.set $ascii (i32.const 0))
              (local.set $needed (i32.sub (local.get $needed) (i32.const 1)))
              (local.set $lower (i32.const 0x80))
              (local.set $upper (i32.const 0xbf)))
            (else
              (if (i32.ge_u (local.get $byte) (i32.const 0x80))
                (then
                  (local.set $ascii (i32.const 0))
                  (if (i32.lt_u (local.get $byte) (i32.const 0xc2))
                    ;; 80..BF only continue a code point; C0, C1 only start overlong forms.
                    (then (return (i32.sub (i32.sub (local.get $at) (local.get $i)) (i32.const 1))))
                  (else (if (i32.lt_u (local.get $byte) (i32.const 0xe0))
                    (then (local.set $needed (i32.const 1)))
                  (else (if (i32.lt_u (local.get $byte) (i32.const 0xf0))
                    (then
                      (local.set $needed (i32.const 2))
                      ;; E0 80..9F would be overlong; ED A0..BF a surrogate (U+D800..DFFF).
                      (if (i32.eq (local.get $byte) (i32.const 0xe0)) (then (local.set $lower (i32.const 0xa0))))
                      (if (i32.eq (local.get $byte) (i32.const 0xed)) (then (local.set $upper (i32.const 0x9f)))))
                  (else (if (i32.lt_u (local.get $byte) (i32.const 0xf5))
                    (then
                      (local.set $needed (i32.const 3))
                      ;; F0 80..8F would be overlong; F4 90..BF above U+10FFFF.
                      (if (i32.eq (local.get $byte) (i32.const 0xf0)) (then (local.set $lower (i32.const 0x90))))
                      (if (i32.eq (local.get $byte) (i32.const 0xf4)) (then (local.set $upper (i32.const 0x8f)))))
                    ;; F5..FF would encode more than U+10FFFF.
                    (else (return (i32.sub (i32.sub (local.get $at) (local.get $i)) (i32.const 1)))))))))))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $i) (local.get $stop))))
        (br $blocks)))
    (i32.or
      (i32.or (local.get $needed) (i32.shl (local.get $lower) (i32.const 8)))
      (i32.or (i32.shl (local.get $upper) (i32.const 16)) (i32.shl (local.get $ascii) (i32.const 24)))))

  ;; utf8(at, length, state) → result: what plain(at, length, state) returns,
  ;; 16 bytes at a time whatever the text (plain goes byte by byte through
  ;; every block that is not all ASCII). The check is the lookup algorithm
  ;; Keiser and Lemire published ("Validating UTF-8 In Less Than One
  ;; Instruction Per Byte", 2021), written here from its description: every
  ;; error of RFC 3629 §4 shows in a pair of adjacent bytes (the high nibble
  ;; of the first, its low nibble, the high nibble of the second: three table
  ;; lookups, ANDed), except a missing 3rd or 4th byte, which shows as a
  ;; continuation byte expected 2 or 3 bytes after a lead byte and not there.
;; Subtracted (saturating) from a block: not zero where the block ends in a code point cut short,
  ;; F0..FF in its 3rd byte from the end, E0..FF in its 2nd, C0..FF in its last.
  (global $unfinished v128 (v128.const i8x16 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xff 0xef 0xdf 0xbf))

  (func (export "utf8") (param $at i32) (param $length i32) (param $state i32) (result i32)
    (local $i i32)
    (local $end i32)
    (local $head i32)
    (local $result i32)
    (local $from i32)
    (local $k i32)
    (local $byte i32)
    (local $ascii i32)
    (local $prev v128)
    (local $cur v128)
    (local $prev1 v128)
    (local $error v128)
    (local.set $end (i32.add (local.get $at) (local.get $length)))
    (local.set $i (local.get $at))
    (local.set $ascii (i32.const 1))
    ;; A code point cut off by the previous call: its last 1 to 3 bytes, the plain way.
    (local.set $head (i32.and (local.get $state) (i32.const 0xff)))
    (if (local.get $head)
      (then
        (if (i32.gt_u (local.get $head) (local.get $length)) (then (local.set $head (local.get $length))))
        (local.set $result (call $plain (local.get $at) (local.get $head) (local.get $state)))
        (if (i32.or (i32.lt_s (local.get $result) (i32.const 0)) (i32.eq (local.get $head) (local.get $length)))
          (then (return (local.get $result))))
        ;; Now between code points: what plain would start from.
        (local.set $ascii (i32.const 0))
        (local.set $i (i32.add (local.get $at) (local.get $head)))))
    (local.set $from (local.get $i))
    ;; The block before the first: as if ASCII (we start between code points).
    (local.set $prev (v128.const i64x2 0 0))
    (local.set $error (v128.const i64x2 0 0))
    (block $done
      (loop $blocks
        ;; Runs of ASCII, 64 bytes at a time (nothing to check in them but the block before).
        (block $not64
          (loop $skip64
            (br_if $not64 (i32.gt_u (i32.add (local.get $i) (i32.const 64)) (local.get $end)))
            (br_if $not64 (i8x16.bitmask
              (v128.or
                (v128.or (v128.load offset=0 (local.get $i)) (v128.load offset=16 (local.get $i)))
                (v128.or (v128.load offset=32 (local.get $i)) (v128.load offset=48 (local.get $i))))))
            (if (v128.any_true (i8x16.sub_sat_u (local.get $prev) (global.get $unfinished)))
              (then (return (call $plain (local.get $at) (local.get $length) (local.get $state)))))
            (local.set $prev (v128.load offset=48 (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 64)))
            (br $skip64)))
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        (local.set $cur (v128.load (local.get $i)))
        (if (i8x16.bitmask (local.get $cur))
          (then
            (local.set $ascii (i32.const 0))
            ;; prev1, prev2, prev3: the byte 1, 2 and 3 places before each byte of the block.
            (local.set $prev1 (i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 (local.get $prev) (local.get $cur)))
            (local.set $error (v128.or (local.get $error) (v128.xor
              ;; A continuation byte must come here: 2 places after E0..FF, or 3 after F0..FF (bit 7).
              (v128.and
                (v128.or
                  (i8x16.sub_sat_u (i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 (local.get $prev) (local.get $cur)) (v128.const i8x16 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60 0x60))
                  (i8x16.sub_sat_u (i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 (local.get $prev) (local.get $cur)) (v128.const i8x16 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70 0x70)))
                (v128.const i8x16 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80))
              ;; The errors each pair (prev1, byte) shows. Bits: 1 too short (a lead byte not followed
              ;; by a continuation byte), 2 too long (a continuation byte after ASCII), 4 overlong
              ;; 3-byte form, 8 above U+10FFFF, 0x10 a surrogate, 0x20 overlong 2-byte form, 0x40
              ;; overlong 4-byte form or F5..FF before 80..8F, 0x80 two continuation bytes in a row
              ;; (an error unless the bit 7 above says one more was due: hence the XOR).
              (v128.and
                (v128.and
                  ;; By prev1's high nibble: 0-7 ASCII, 8-B continuation, C, D, E, F lead bytes.
                  (i8x16.swizzle
                    (v128.const i8x16 0x02 0x02 0x02 0x02 0x02 0x02 0x02 0x02 0x80 0x80 0x80 0x80 0x21 0x01 0x15 0x49)
                    (i8x16.shr_u (local.get $prev1) (i32.const 4)))
                  ;; By prev1's low nibble.
                  (i8x16.swizzle
                    (v128.const i8x16 0xe7 0xa3 0x83 0x83 0x8b 0xcb 0xcb 0xcb 0xcb 0xcb 0xcb 0xcb 0xcb 0xdb 0xcb 0xcb)
                    (v128.and (local.get $prev1) (v128.const i8x16 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f))))
                ;; By the byte's own high nibble.
                (i8x16.swizzle
                  (v128.const i8x16 0x01 0x01 0x01 0x01 0x01 0x01 0x01 0x01 0xe6 0xae 0xba 0xba 0x01 0x01 0x01 0x01)
                  (i8x16.shr_u (local.get $cur) (i32.const 4)))))))
            ;; Stop at the first block with an error: plain finds the byte (and says which).
            (if (v128.any_true (local.get $error))
              (then (return (call $plain (local.get $at) (local.get $length) (local.get $state))))))
          (else
            ;; All ASCII: fine, unless the block before ended in a code point cut short.
            (if (v128.any_true (i8x16.sub_sat_u (local.get $prev) (global.get $unfinished)))
              (then (return (call $plain (local.get $at) (local.get $length) (local.get $state)))))))
        (local.set $prev (local.get $cur))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    ;; The last 0 to 15 bytes, the plain way, from the start of a code point the
    ;; blocks left unfinished (a lead byte in the last 3 bytes, with fewer
    ;; continuation bytes after it than it needs), if there is one.
    (local.set $k (i32.const 1))
    (block $found
      (loop $back
        (br_if $found (i32.or (i32.gt_u (local.get $k) (i32.const 3)) (i32.gt_u (local.get $k) (i32.sub (local.get $i) (local.get $from)))))
        (local.set $byte (i32.load8_u (i32.sub (local.get $i) (local.get $k))))
        (br_if $found (i32.lt_u (local.get $byte) (i32.const 0x80)))
        (if (i32.ge_u (local.get $byte) (i32.const 0xc0))
          (then
            ;; A lead byte: 2, 3 or 4 bytes long; unfinished if longer than the k bytes from it.
            (if (i32.gt_u
                  (select (i32.const 4) (select (i32.const 3) (i32.const 2) (i32.ge_u (local.get $byte) (i32.const 0xe0))) (i32.ge_u (local.get $byte) (i32.const 0xf0)))
                  (local.get $k))
              (then (local.set $i (i32.sub (local.get $i) (local.get $k)))))
            (br $found)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $back)))
    (local.set $result (call $plain (local.get $i) (i32.sub (local.get $end) (local.get $i)) (i32.const 0x00bf8000)))
    ;; A bad byte in the tail: its index from `at`, not from `i`.
    (if (i32.lt_s (local.get $result) (i32.const 0))
      (then (return (i32.sub (local.get $result) (i32.sub (local.get $i) (local.get $at))))))
    (if (i32.eqz (local.get $ascii))
      (then (local.set $result (i32.and (local.get $result) (i32.const 0x00ffffff)))))
    (local.get $result)))
