// Recomputes, with mmsmon's signer, every Authorization that Alibaba's official signer
// produced in node/signer_cases.js, and compares them byte for byte.
// Usage: signer_crosscheck CASES.json
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/signer.hpp"

int main(int argc, char** argv) {
  namespace json = boost::json;
  if (argc != 2) {
    std::cerr << "usage: signer_crosscheck CASES.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream ss;
  ss << in.rdbuf();
  json::value cases = json::parse(ss.str());
  int passed = 0, failed = 0;
  for (const auto& cv : cases.as_array()) {
    const auto& c = cv.as_object();
    mmsmon::SigningInput s;
    s.method = json::value_to<std::string>(c.at("method"));
    for (const auto& seg : c.at("segments").as_array())
      s.canonical_uri += "/" + mmsmon::percent_encode(seg.as_string());
    for (const auto& kv : c.at("query").as_array())
      s.query.emplace_back(json::value_to<std::string>(kv.as_array()[0]),
                           json::value_to<std::string>(kv.as_array()[1]));
    for (const auto& kv : c.at("headers").as_array())
      s.headers.emplace_back(json::value_to<std::string>(kv.as_array()[0]),
                             json::value_to<std::string>(kv.as_array()[1]));
    s.payload_sha256 = json::value_to<std::string>(c.at("payload"));
    std::string ours = mmsmon::authorization(s, json::value_to<std::string>(c.at("access_key_id")),
                                             json::value_to<std::string>(c.at("secret")));
    std::string theirs = json::value_to<std::string>(c.at("expected"));
    if (ours == theirs) {
      ++passed;
    } else {
      ++failed;
      // The secrets here are generated test values, never real ones.
      std::cout << "MISMATCH case " << passed + failed - 1 << "\n  official: " << theirs
                << "\n  mmsmon:   " << ours << "\n  canonical request:\n"
                << mmsmon::canonical_request(s) << "\n";
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return (failed == 0 && passed >= 200) ? 0 : 1;
}
