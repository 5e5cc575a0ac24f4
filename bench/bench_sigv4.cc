/*
 * bench/bench_sigv4.cc - SigV4 cost of one typical UploadMultipartPart request: signing on the
 * client (floe_sigv4_sign) and checking on floe-vault (floe_sigv4_verify).
 *
 * The request is what the engine sends for a 64 MiB part: PUT of the multipart-upload URL with
 * Host, x-amz-glacier-version, Content-Range, Content-Length, both payload hashes and a
 * User-Agent (blocklisted, so it exercises the filter). The payload hash is given, as the
 * engine has it from floe_treehash_part(); hashing the body is not part of this cost.
 *
 * Reported per request (items_per_second = requests/s). There are no payload bytes here: to
 * compare with hashing, divide by the time of hashing one part (docs/performance.md).
 */
#include "harness.h"

#include "floe/sigv4.h"

#include <cstring>

namespace
{

const char kHost[] = "glacier.us-east-1.amazonaws.com";
const char kPath[] =
    "/-/vaults/examplevault/multipart-uploads/"
    "OW2fM5iVylEpFEMM9_HpKowRapC3vn5sSL39_396UW9zLFUWVrnRHaPjUJddQ5OxSHVXjYtrN47NBZ-"
    "khxOjyEXAMPLE";
const char kPayloadSha[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const char kTreeHash[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const time_t kWhen = 1795550400; /* 2026-11-24T20:00:00Z */

const struct floe_sigv4_header kHeaders[] = {
    {"Host", kHost},
    {"x-amz-glacier-version", "2012-06-01"},
    {"Content-Range", "bytes 0-67108863/*"},
    {"Content-Length", "67108864"},
    {"x-amz-content-sha256", kPayloadSha},
    {"x-amz-sha256-tree-hash", kTreeHash},
    {"User-Agent", "floe/0.1.0"},
};

const struct floe_sigv4_request kRequest = {
    "PUT", kPath, nullptr, kHeaders, sizeof(kHeaders) / sizeof(kHeaders[0]), kPayloadSha, false,
};

const struct floe_sigv4_credentials kCred = {"AKIAIOSFODNN7EXAMPLE",
                                             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nullptr};

void sigv4_sign(benchmark::State &state)
{
    struct floe_sigv4_signed out;
    struct floe_error err = {};
    floe_bench::Background bg;
    for (auto _ : state) {
        if (floe_sigv4_sign(&kRequest, &kCred, "us-east-1", "glacier", kWhen, &out, &err) !=
            FLOE_OK) {
            state.SkipWithError(err.message);
            break;
        }
        benchmark::DoNotOptimize(out.signature);
    }
    bg.report(state);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

int lookup(const char *key_id, char *secret_out, size_t secret_cap, void *user)
{
    (void)user;
    if (std::strcmp(key_id, kCred.access_key_id) != 0 ||
        std::strlen(kCred.secret_access_key) >= secret_cap)
        return 1;
    std::memcpy(secret_out, kCred.secret_access_key, std::strlen(kCred.secret_access_key) + 1);
    return 0;
}

void sigv4_verify(benchmark::State &state)
{
    /* What floe-vault receives: the signed headers plus X-Amz-Date (and Authorization, which
     * is passed separately). */
    struct floe_sigv4_signed sig;
    struct floe_error err = {};
    if (floe_sigv4_sign(&kRequest, &kCred, "us-east-1", "glacier", kWhen, &sig, &err) != FLOE_OK) {
        state.SkipWithError(err.message);
        return;
    }
    const size_t n = sizeof(kHeaders) / sizeof(kHeaders[0]);
    struct floe_sigv4_header received[n + 2];
    for (size_t i = 0; i < n; i++)
        received[i] = kHeaders[i];
    received[n] = {"X-Amz-Date", sig.amz_date};
    received[n + 1] = {"Authorization", sig.authorization};
    struct floe_sigv4_request req = kRequest;
    req.headers = received;
    req.nheaders = n + 2;
    req.payload_sha256_hex = nullptr; /* taken from x-amz-content-sha256, as before the body */
    struct floe_sigv4_verify_opts opts = {};
    opts.region = "us-east-1";
    opts.service = "glacier";
    opts.now = kWhen + 5;
    opts.lookup = lookup;
    struct floe_sigv4_verdict verdict;
    floe_bench::Background bg;
    for (auto _ : state) {
        if (floe_sigv4_verify(&req, sig.authorization, &opts, &verdict, &err) != FLOE_OK) {
            state.SkipWithError(err.message);
            break;
        }
        benchmark::DoNotOptimize(verdict.reason);
    }
    bg.report(state);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

} // namespace

BENCHMARK(sigv4_sign)->Name("sigv4/sign_upload_multipart_part")->Unit(benchmark::kMicrosecond);
BENCHMARK(sigv4_verify)->Name("sigv4/verify_upload_multipart_part")->Unit(benchmark::kMicrosecond);
