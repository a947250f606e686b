// The real ap_types headers as the oracle for Convoy's `x as T`
// (convoy::numeric::cast_raw): tests/it/ap_fixed_modes.rs runs this program and
// compares every result with Convoy's.
//
// Source values are ap_fixed<24, 12> raw codes (value = code / 2^12), read
// one per line from argv[1]. Each one is assigned to many target types, and
// the target's raw code (its W bits as a two's-complement or unsigned
// integer, value = code / 2^(W - I)) is printed:
//
//   fixed W I S Q O      ap_fixed<W, I, Q, O> (S = 1) / ap_ufixed<W, I, Q, O>
//                        (S = 0), for all 7 quantization and all 4 overflow
//                        modes on each (W, I, S) of part0() and part1();
//   int W 0 S - -        ap_int<W> (S = 1) / ap_uint<W> (S = 0): truncation
//                        toward zero, then the low W bits;
//   intmode W W S AP_TRN_ZERO O
//                        ap_(u)fixed<W, W, AP_TRN_ZERO, O>: an integer target
//                        with a saturating overflow mode (Convoy's
//                        `x as u8 sat`), for all 4 overflow modes.
//
// Each block is a header line as above, then one line of codes in the order
// of the source values. Usage: modes SOURCES > OUTPUT
//
// One case is left out on purpose: a target whose LSB is more than 24 bits
// above the source's (e.g. ap_fixed<3, 20>, fraction -17) makes the headers'
// quantization code read bit F2 - F - 1 >= 24 of the source, and
// ap_private::get_bit asserts ("Attempting to read bit beyond MSB") in C
// simulation. ap_fixed<3, 15> (all 24 source bits dropped) is the deepest
// case that runs.

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ap_fixed.h"
#include "ap_int.h"

typedef ap_fixed<24, 12> Source;
static std::vector<Source> sources;

static const char *qname(ap_q_mode q) {
    switch (q) {
        case AP_TRN: return "AP_TRN";
        case AP_TRN_ZERO: return "AP_TRN_ZERO";
        case AP_RND: return "AP_RND";
        case AP_RND_ZERO: return "AP_RND_ZERO";
        case AP_RND_INF: return "AP_RND_INF";
        case AP_RND_MIN_INF: return "AP_RND_MIN_INF";
        case AP_RND_CONV: return "AP_RND_CONV";
    }
    return "?";
}

static const char *oname(ap_o_mode o) {
    switch (o) {
        case AP_WRAP: return "AP_WRAP";
        case AP_SAT: return "AP_SAT";
        case AP_SAT_ZERO: return "AP_SAT_ZERO";
        case AP_SAT_SYM: return "AP_SAT_SYM";
        default: return "?";
    }
}

// ap_fixed or ap_ufixed by signedness.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
struct Fixed {
    typedef ap_fixed<W, I, Q, O> type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O>
struct Fixed<W, I, false, Q, O> {
    typedef ap_ufixed<W, I, Q, O> type;
};

// ap_int or ap_uint by signedness.
template <int W, bool S>
struct Int {
    typedef ap_int<W> type;
};
template <int W>
struct Int<W, false> {
    typedef ap_uint<W> type;
};

// The W-bit raw code of an ap_(u)fixed / ap_(u)int value, as an integer.
template <int W, bool S, typename T>
static void print_code(const T &t) {
    ap_int_base<W, S> code;
    code.V = t.V;
    if (S)
        printf(" %lld", (long long)code.to_int64());
    else
        printf(" %llu", (unsigned long long)code.to_uint64());
}

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
static void fixed_target(const char *kind) {
    typedef typename Fixed<W, I, S, Q, O>::type T;
    printf("%s %d %d %d %s %s\n", kind, W, I, (int)S, qname(Q), oname(O));
    for (size_t i = 0; i < sources.size(); i++) {
        T t;
        t = sources[i];  // assignment: the target's quantization and overflow
        print_code<W, S>(t);
    }
    printf("\n");
}

template <int W, int I, bool S, ap_o_mode O>
static void all_quant(const char *kind) {
    fixed_target<W, I, S, AP_TRN, O>(kind);
    fixed_target<W, I, S, AP_TRN_ZERO, O>(kind);
    fixed_target<W, I, S, AP_RND, O>(kind);
    fixed_target<W, I, S, AP_RND_ZERO, O>(kind);
    fixed_target<W, I, S, AP_RND_INF, O>(kind);
    fixed_target<W, I, S, AP_RND_MIN_INF, O>(kind);
    fixed_target<W, I, S, AP_RND_CONV, O>(kind);
}

// All 7 x 4 mode pairs on one (W, I, S).
template <int W, int I, bool S>
static void all_modes() {
    all_quant<W, I, S, AP_WRAP>("fixed");
    all_quant<W, I, S, AP_SAT>("fixed");
    all_quant<W, I, S, AP_SAT_ZERO>("fixed");
    all_quant<W, I, S, AP_SAT_SYM>("fixed");
}

template <int W, bool S>
static void int_target() {
    typedef typename Int<W, S>::type T;
    printf("int %d 0 %d - -\n", W, (int)S);
    for (size_t i = 0; i < sources.size(); i++) {
        T t = sources[i];  // truncation toward zero, then the low W bits
        print_code<W, S>(t);
    }
    printf("\n");
}

// An integer target with each overflow mode: ap_(u)fixed<W, W, AP_TRN_ZERO, O>.
template <int W, bool S>
static void int_modes() {
    fixed_target<W, W, S, AP_TRN_ZERO, AP_WRAP>("intmode");
    fixed_target<W, W, S, AP_TRN_ZERO, AP_SAT>("intmode");
    fixed_target<W, W, S, AP_TRN_ZERO, AP_SAT_ZERO>("intmode");
    fixed_target<W, W, S, AP_TRN_ZERO, AP_SAT_SYM>("intmode");
}

// The types are split in two parts, built as two programs (-DPART=0 and
// -DPART=1) that compile in parallel: each instantiation of an ap_fixed
// assignment is slow to compile. Without PART, one program does both.
#if !defined(PART) || PART == 0
static void part0() {
    // Signed. The source is ap_fixed<24, 12>: 12 integer and 12 fraction bits.
    all_modes<8, 4, true>();     // the README's examples: LSB 1/16, [-8, 7.9375]
    all_modes<6, 3, true>();
    all_modes<4, 1, true>();     // [-1, 0.875]
    all_modes<1, 1, true>();     // a single sign bit: {-1, 0}
    all_modes<2, 0, true>();     // [-0.5, 0.25]
    all_modes<5, -2, true>();    // negative integer bits: LSB 2^-7
    all_modes<2, -10, true>();   // same LSB as the source, tiny range
    all_modes<3, -11, true>();   // LSB below the source's: a left shift
    all_modes<10, 2, true>();
    all_modes<16, 6, true>();
    all_modes<12, 12, true>();   // integer-valued
    all_modes<7, 7, true>();
    all_modes<8, 10, true>();    // negative fraction bits: LSB 4
    all_modes<3, 15, true>();    // LSB 2^12: drops all 24 bits of the source
    all_modes<24, 12, true>();   // the source type itself
    all_modes<20, 14, true>();   // more integer bits, fewer fraction bits
    all_modes<30, 12, true>();   // more fraction bits: exact
    all_modes<40, 8, true>();    // more fraction bits, fewer integer bits
    all_modes<32, 1, true>();    // the seed's factor type
    all_modes<64, 32, true>();
}
#endif

#if !defined(PART) || PART == 1
static void part1() {
    // Unsigned.
    all_modes<8, 4, false>();
    all_modes<1, 0, false>();    // {0, 0.5}
    all_modes<1, 1, false>();    // {0, 1}
    all_modes<8, 0, false>();
    all_modes<6, -3, false>();
    all_modes<4, 6, false>();    // LSB 4, [0, 60]
    all_modes<12, 12, false>();
    all_modes<11, 11, false>();  // the source's integer range without its sign
    all_modes<16, 8, false>();
    all_modes<23, 11, false>();
    all_modes<24, 12, false>();
    all_modes<30, 14, false>();
    all_modes<64, 40, false>();

    int_target<1, true>();
    int_target<2, true>();
    int_target<3, true>();
    int_target<4, true>();
    int_target<7, true>();
    int_target<8, true>();
    int_target<11, true>();
    int_target<12, true>();
    int_target<13, true>();
    int_target<16, true>();
    int_target<32, true>();
    int_target<64, true>();
    int_target<1, false>();
    int_target<2, false>();
    int_target<4, false>();
    int_target<8, false>();
    int_target<9, false>();
    int_target<11, false>();
    int_target<12, false>();
    int_target<13, false>();
    int_target<16, false>();
    int_target<32, false>();
    int_target<64, false>();

    int_modes<1, true>();
    int_modes<4, true>();
    int_modes<8, true>();
    int_modes<12, true>();
    int_modes<16, true>();
    int_modes<1, false>();
    int_modes<4, false>();
    int_modes<8, false>();
    int_modes<11, false>();
    int_modes<16, false>();
}
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: modes SOURCES > OUTPUT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "modes: cannot open %s\n", argv[1]);
        return 2;
    }
    long long raw;
    while (fscanf(f, "%lld", &raw) == 1) {
        if (raw < -(1LL << 23) || raw >= (1LL << 23)) {
            fprintf(stderr, "modes: %lld is not an ap_fixed<24, 12> code\n", raw);
            return 2;
        }
        Source s;
        s.V = raw;
        // Independent check of the code just stored: the exact double value.
        if (s.to_double() * 4096.0 != (double)raw) {
            fprintf(stderr, "modes: code %lld stored as %.17g\n", raw, s.to_double());
            return 2;
        }
        sources.push_back(s);
    }
    fclose(f);
    printf("sources %zu\n", sources.size());
#if !defined(PART) || PART == 0
    part0();
#endif
#if !defined(PART) || PART == 1
    part1();
#endif
    return 0;
}
