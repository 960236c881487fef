#include <doctest/doctest.h>

#include "core/api_decode.hpp"
#include "core/api_request.hpp"
#include "core/signer.hpp"

using namespace mmsmon;

namespace {

const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SigningInput base(std::string method, std::string path, std::string host, std::string action,
                  std::string version) {
  SigningInput in;
  in.method = std::move(method);
  in.canonical_uri = std::move(path);
  in.payload_sha256 = kEmpty;
  in.headers = {{"host", host},
                {"x-acs-action", action},
                {"x-acs-version", version},
                {"x-acs-date", "2023-10-26T10:22:32Z"},
                {"x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"},
                {"x-acs-content-sha256", kEmpty}};
  return in;
}

std::string signature_of(const std::string& auth) {
  return auth.substr(auth.rfind('=') + 1);
}

}  // namespace

TEST_CASE("empty body hash") {
  CHECK(sha256_hex("") == kEmpty);
}

TEST_CASE("HMAC-SHA256 with reused contexts: empty, long and alternating keys") {
  // Reference values from Python's hmac module. The contexts are reused between calls, so
  // alternate keys to show that no key leaks from one call into the next.
  for (int round = 0; round < 2; ++round) {
    CHECK(hmac_sha256_hex("", "x") ==
          "4cbc96099a6467ce002461f10549b4898265ebe6188b45efacc44293516e62c4");
    CHECK(hmac_sha256_hex(std::string(100, 'k'), "msg") ==
          "bd56a1782c2830e8abc6ed866a57a1230661e650b84c62f7ee3accc5fa5af491");
  }
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == kEmpty);
}

TEST_CASE("vector: official RunInstances example") {
  auto in = base("POST", "/", "ecs.cn-shanghai.aliyuncs.com", "RunInstances", "2014-05-26");
  in.query = {{"ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
              {"RegionId", "cn-shanghai"}};
  std::string cr = canonical_request(in);
  CHECK(sha256_hex(cr) == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
  auto auth = authorization(in, "YourAccessKeyId", "YourAccessKeySecret");
  CHECK(signature_of(auth) == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
  CHECK(auth ==
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
}

TEST_CASE("vector: GetMmsJob") {
  auto in = base("GET", "/api/v1/mms/datasources/2000015/jobs/10",
                 "maxcompute.cn-hangzhou.aliyuncs.com", "GetMmsJob", "2022-01-04");
  CHECK(signature_of(authorization(in, "YourAccessKeyId", "YourAccessKeySecret")) ==
        "20306434618202bdfb0efe140f578a3a6c204912037a8ddb24e7f47613dd9daa");
}

TEST_CASE("vector: GetMmsJob with STS") {
  auto in = base("GET", "/api/v1/mms/datasources/2000015/jobs/10",
                 "maxcompute.cn-hangzhou.aliyuncs.com", "GetMmsJob", "2022-01-04");
  in.headers.emplace_back("x-acs-security-token", "YourSecurityToken");
  in.headers.emplace_back("x-acs-accesskey-id", "YourAccessKeyId");
  CHECK(signature_of(authorization(in, "YourAccessKeyId", "YourAccessKeySecret")) ==
        "111b83b7663aac15a7ad2063ffa78dbebdfbb569bb482eb85ae638befc55fbcf");
}

TEST_CASE("vector: ListMmsTasks") {
  auto in = base("GET", "/api/v1/mms/datasources/2000015/tasks",
                 "maxcompute.cn-hangzhou.aliyuncs.com", "ListMmsTasks", "2022-01-04");
  in.query = {{"status", "DATA_FAILED"}, {"jobId", "10"}, {"pageSize", "100"}, {"pageNum", "1"}};
  CHECK(signature_of(authorization(in, "YourAccessKeyId", "YourAccessKeySecret")) ==
        "fd54bd451801db63bed7193439ba4ff71d4ca904f8a4d4f29f1192df09ad5dd6");
}

TEST_CASE("prepare_request signs what it sends") {
  auto call = get_mms_job_call(JobKey{SourceId{2000015}, JobId{10}});
  auto t = parse_api_time("2023-10-26 10:22:32", std::chrono::minutes{0});
  REQUIRE(t);
  auto req = prepare_request(call, "maxcompute.cn-hangzhou.aliyuncs.com",
                             {"YourAccessKeyId", "YourAccessKeySecret", ""}, *t,
                             "3156853299f313e23d1673dc12e1703d", "mmsmon/test");
  CHECK(req.target == "/api/v1/mms/datasources/2000015/jobs/10");
  std::string auth;
  for (auto& [k, v] : req.headers)
    if (k == "authorization") auth = v;
  CHECK(signature_of(auth) == "20306434618202bdfb0efe140f578a3a6c204912037a8ddb24e7f47613dd9daa");
}

TEST_CASE("percent encoding follows RFC 3986") {
  CHECK(percent_encode("a b*c~d/e+f%") == "a%20b%2Ac~d%2Fe%2Bf%25");
  CHECK(percent_encode("\xe4\xb8\xad") == "%E4%B8%AD");
  CHECK(encode_path("/a b/c*") == "/a%20b/c%2A");
  CHECK(percent_decode("a%20b%2a+%zz") == "a b*+%zz");
  CHECK(canonical_query({{"b", ""}, {"a", "x y"}}) == "a=x%20y&b=");
}

TEST_CASE("authorization header parses back") {
  ParsedAuthorization p;
  REQUIRE(parse_authorization(
      "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;x-acs-date,Signature=abc", p));
  CHECK(p.algorithm == "ACS3-HMAC-SHA256");
  CHECK(p.credential == "id");
  CHECK(p.signed_headers == std::vector<std::string>{"host", "x-acs-date"});
  CHECK(p.signature == "abc");
  CHECK_FALSE(parse_authorization("garbage", p));
}
