// The reference HLS design (shared/reference/000_f9750821a3517f7a.txt, end of
// the file), compiled for the CPU with the open-source ap_types headers, as
// the bit-exact oracle for examples/seed.cnn (tests/it/reference_hls.rs).
//
// DW_CONV_3x3 and conv1x1 are transcribed from the reference: the same
// ap_uint<8> [16][34][66] buffers with a one-pixel halo, ap_int<8> weights,
// ap_int<16> bias, ap_fixed<32,1> factor and ap_int<32> mid_result. The
// reference does not show its helpers; they are written the evident way:
//
//   compute_engine_16  the sum of the 16 products, as ap_int<32>;
//   qunat_dequant2     mid * factor, exact in ap_fixed<64,33>, converted to
//                      an integer the way HLS code does (assignment to
//                      ap_int<32>, which truncates toward zero like to_int());
//   relu               v > 0 ? v : 0 on the ap_int sum bias + q;
//
// and the store into an ap_uint<8> element keeps the low 8 bits.
//
// One deliberate change: the literal conv1x1 reads bottom[ci][h][w] and writes
// top[coo][h][w] for h < 32, w < 64: padded coordinates without the +1 offset
// that DW_CONV_3x3 uses. It therefore covers padded rows 0..31 and columns
// 0..63 instead of the interior 1..32 x 1..64: the halo's top row and left
// column receive relu(bias + ...) of the zero halo, and the last interior row
// and column are never written. Here conv1x1 reads and writes the interior
// (h + 1, w + 1), the evident intent that seed.cnn expresses. The literal
// version is kept as conv1x1_literal and run with --literal; since a 1x1 conv
// reads and writes the same pixel, its interior differs from the intended one
// exactly in the last row and column (tests/it/reference_hls.rs checks that).
//
// Usage: seed_reference PARAMS INPUT OUTPUT [--literal]
//   PARAMS  whitespace-separated integers: w_dw (16*3*3, [co][kh][kw]),
//           b_dw (16), w_pw (16*16, [co][ci]), b_pw (16)
//   INPUT   16*32*64 integers 0..255, [c][h][w]
//   OUTPUT  written: the pw interior, 16*32*64 integers, [c][h][w]
// Prints counts on stdout, one "name value" a line:
//   dw_wrapped / pw_wrapped    relu results > 255 before the ap_uint<8> store
//   to_int_disagreements       conversions where ap_int<32> assignment and
//                              to_int() differ (expected 0)
//   factor_raw                 the raw code of the ap_fixed<32,1> factor

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ap_fixed.h"
#include "ap_int.h"

static long dw_wrapped = 0;
static long pw_wrapped = 0;
static long to_int_disagreements = 0;
static long *wrap_counter = &dw_wrapped;

// mid * factor, converted to an integer as HLS code does.
ap_int<32> qunat_dequant2(ap_int<32> mid, ap_fixed<32, 1> factor) {
    ap_fixed<64, 33> product = mid * factor;  // exact: ap_fixed<64, 33>
    ap_int<32> q = product;                   // truncates toward zero
    if (q.to_int() != product.to_int()) ++to_int_disagreements;
    return q;
}

template <int W, bool S>
ap_int_base<W, S> relu(const ap_int_base<W, S> &v) {
    ap_int_base<W, S> r = v > 0 ? v : ap_int_base<W, S>(0);
    if (r > 255) ++*wrap_counter;  // the ap_uint<8> store will wrap
    return r;
}

ap_int<32> compute_engine_16(
    ap_int<8> w0, ap_uint<8> b0, ap_int<8> w1, ap_uint<8> b1,
    ap_int<8> w2, ap_uint<8> b2, ap_int<8> w3, ap_uint<8> b3,
    ap_int<8> w4, ap_uint<8> b4, ap_int<8> w5, ap_uint<8> b5,
    ap_int<8> w6, ap_uint<8> b6, ap_int<8> w7, ap_uint<8> b7,
    ap_int<8> w8, ap_uint<8> b8, ap_int<8> w9, ap_uint<8> b9,
    ap_int<8> w10, ap_uint<8> b10, ap_int<8> w11, ap_uint<8> b11,
    ap_int<8> w12, ap_uint<8> b12, ap_int<8> w13, ap_uint<8> b13,
    ap_int<8> w14, ap_uint<8> b14, ap_int<8> w15, ap_uint<8> b15) {
    ap_int<32> sum = w0 * b0 + w1 * b1 + w2 * b2 + w3 * b3 + w4 * b4 +
                     w5 * b5 + w6 * b6 + w7 * b7 + w8 * b8 + w9 * b9 +
                     w10 * b10 + w11 * b11 + w12 * b12 + w13 * b13 +
                     w14 * b14 + w15 * b15;
    return sum;
}

// ---- transcribed from the reference (conv1x1 reads/writes the interior) ----

void conv1x1(ap_uint<8> bottom[16][34][66], ap_uint<8> top[16][34][66],
             ap_int<8> weight[16][16], ap_int<16> bias[16],
             ap_fixed<32, 1> factor) {
    ap_int<32> mid_result = 0;
    for (int h = 0; h < 32; h++) {
        for (int w = 0; w < 64; w++) {
            for (int coo = 0; coo < 16; coo++) {  // output channel
                // The reference indexes bottom[ci][h][w] / top[coo][h][w]
                // (no +1): see the comment at the top of the file.
                mid_result = compute_engine_16(
                    weight[coo][0], bottom[0][h + 1][w + 1],
                    weight[coo][1], bottom[1][h + 1][w + 1],
                    weight[coo][2], bottom[2][h + 1][w + 1],
                    weight[coo][3], bottom[3][h + 1][w + 1],
                    weight[coo][4], bottom[4][h + 1][w + 1],
                    weight[coo][5], bottom[5][h + 1][w + 1],
                    weight[coo][6], bottom[6][h + 1][w + 1],
                    weight[coo][7], bottom[7][h + 1][w + 1],
                    weight[coo][8], bottom[8][h + 1][w + 1],
                    weight[coo][9], bottom[9][h + 1][w + 1],
                    weight[coo][10], bottom[10][h + 1][w + 1],
                    weight[coo][11], bottom[11][h + 1][w + 1],
                    weight[coo][12], bottom[12][h + 1][w + 1],
                    weight[coo][13], bottom[13][h + 1][w + 1],
                    weight[coo][14], bottom[14][h + 1][w + 1],
                    weight[coo][15], bottom[15][h + 1][w + 1]);
                top[coo][h + 1][w + 1] =
                    relu(bias[coo] + qunat_dequant2(mid_result, factor));
            }
        }
    }
}

// The reference's conv1x1 exactly as written (no +1 offset).
void conv1x1_literal(ap_uint<8> bottom[16][34][66], ap_uint<8> top[16][34][66],
                     ap_int<8> weight[16][16], ap_int<16> bias[16],
                     ap_fixed<32, 1> factor) {
    ap_int<32> mid_result = 0;
    for (int h = 0; h < 32; h++) {
        for (int w = 0; w < 64; w++) {
            for (int coo = 0; coo < 16; coo++) {  // output channel
                mid_result = compute_engine_16(
                    weight[coo][0], bottom[0][h][w], weight[coo][1], bottom[1][h][w],
                    weight[coo][2], bottom[2][h][w], weight[coo][3], bottom[3][h][w],
                    weight[coo][4], bottom[4][h][w], weight[coo][5], bottom[5][h][w],
                    weight[coo][6], bottom[6][h][w], weight[coo][7], bottom[7][h][w],
                    weight[coo][8], bottom[8][h][w], weight[coo][9], bottom[9][h][w],
                    weight[coo][10], bottom[10][h][w], weight[coo][11], bottom[11][h][w],
                    weight[coo][12], bottom[12][h][w], weight[coo][13], bottom[13][h][w],
                    weight[coo][14], bottom[14][h][w], weight[coo][15], bottom[15][h][w]);
                top[coo][h][w] = relu(bias[coo] + qunat_dequant2(mid_result, factor));
            }
        }
    }
}

void DW_CONV_3x3(ap_uint<8> bottom[16][34][66], ap_uint<8> top[16][34][66],
                 ap_int<8> weight[16][3][3], ap_int<16> bias[16],
                 ap_fixed<32, 1> factor) {
    ap_int<32> mid_result = 0;
    for (int co = 0; co < 16; co++) {
        for (int h = 1; h <= 32; h++) {
            for (int w = 1; w <= 64; w++) {
                mid_result = (weight[co][0][0] * bottom[co][h - 1][w - 1]) +
                             (weight[co][0][1] * bottom[co][h - 1][w]) +
                             (weight[co][0][2] * bottom[co][h - 1][w + 1]) +
                             (weight[co][1][0] * bottom[co][h][w - 1]) +
                             (weight[co][1][1] * bottom[co][h][w]) +
                             (weight[co][1][2] * bottom[co][h][w + 1]) +
                             (weight[co][2][0] * bottom[co][h + 1][w - 1]) +
                             (weight[co][2][1] * bottom[co][h + 1][w]) +
                             (weight[co][2][2] * bottom[co][h + 1][w + 1]);
                top[co][h][w] = relu(bias[co] + qunat_dequant2(mid_result, factor));
            }
        }
    }
}

// ---- driver ----

static ap_uint<8> input_map[16][34][66];  // zero halo (static storage)
static ap_uint<8> dw_map[16][34][66];
static ap_uint<8> pw_map[16][34][66];
static ap_int<8> w_dw[16][3][3];
static ap_int<16> b_dw[16];
static ap_int<8> w_pw[16][16];
static ap_int<16> b_pw[16];

static long read_int(FILE *f, const char *what, long lo, long hi) {
    long v;
    if (fscanf(f, "%ld", &v) != 1) {
        fprintf(stderr, "seed_reference: missing value in %s\n", what);
        exit(2);
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "seed_reference: %s value %ld outside [%ld, %ld]\n", what, v, lo, hi);
        exit(2);
    }
    return v;
}

static FILE *open_or_die(const char *path, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "seed_reference: cannot open %s\n", path);
        exit(2);
    }
    return f;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--literal") != 0)) {
        fprintf(stderr, "usage: seed_reference PARAMS INPUT OUTPUT [--literal]\n");
        return 2;
    }
    bool literal = argc == 5;

    FILE *pf = open_or_die(argv[1], "r");
    for (int co = 0; co < 16; co++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) w_dw[co][kh][kw] = read_int(pf, "w_dw", -128, 127);
    for (int co = 0; co < 16; co++) b_dw[co] = read_int(pf, "b_dw", -32768, 32767);
    for (int co = 0; co < 16; co++)
        for (int ci = 0; ci < 16; ci++) w_pw[co][ci] = read_int(pf, "w_pw", -128, 127);
    for (int co = 0; co < 16; co++) b_pw[co] = read_int(pf, "b_pw", -32768, 32767);
    fclose(pf);

    FILE *xf = open_or_die(argv[2], "r");
    for (int c = 0; c < 16; c++)
        for (int h = 0; h < 32; h++)
            for (int w = 0; w < 64; w++) input_map[c][h + 1][w + 1] = read_int(xf, "input", 0, 255);
    fclose(xf);

    ap_fixed<32, 1> factor = 0.0123;

    wrap_counter = &dw_wrapped;
    DW_CONV_3x3(input_map, dw_map, w_dw, b_dw, factor);
    wrap_counter = &pw_wrapped;
    if (literal)
        conv1x1_literal(dw_map, pw_map, w_pw, b_pw, factor);
    else
        conv1x1(dw_map, pw_map, w_pw, b_pw, factor);

    FILE *of = open_or_die(argv[3], "w");
    for (int c = 0; c < 16; c++)
        for (int h = 0; h < 32; h++) {
            for (int w = 0; w < 64; w++)
                fprintf(of, w ? " %u" : "%u", (unsigned)pw_map[c][h + 1][w + 1].to_uint());
            fputc('\n', of);
        }
    if (fclose(of) != 0) {
        fprintf(stderr, "seed_reference: cannot write %s\n", argv[3]);
        return 2;
    }

    ap_int<32> factor_raw;
    factor_raw.range(31, 0) = factor.range(31, 0);
    printf("dw_wrapped %ld\n", dw_wrapped);
    printf("pw_wrapped %ld\n", pw_wrapped);
    printf("to_int_disagreements %ld\n", to_int_disagreements);
    printf("factor_raw %d\n", factor_raw.to_int());
    return 0;
}
