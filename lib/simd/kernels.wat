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

  ;; utf8(at, length, state) → result: checks bytes at..at+length-1 as the
  ;; continuation of a UTF-8 stream (RFC 3629 §4), the same state machine as
  ;; chapter 05's Utf8Validator, so a code point may be cut between calls.
  ;;   state: continuation bytes still needed (bits 0-7), the lowest (bits 8-15)
  ;;          and the highest (bits 16-23) value the next one may take;
  ;;          0x00BF8000 between code points.
  ;;   result ≥ 0: valid so far; the new state, and bit 24 set if every byte
  ;;          was ASCII (then the text needs no UTF-8 decoding: it is Latin-1 too).
  ;;   result < 0: the byte at -result - 1 (from `at`) cannot be there.
  (func (export "utf8") (param $at i32) (param $length i32) (param $state i32) (result i32)
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
      (i32.or (i32.shl (local.get $upper) (i32.const 16)) (i32.shl (local.get $ascii) (i32.const 24))))))
