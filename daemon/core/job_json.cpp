#include "core/job_json.hpp"

#include <boost/json.hpp>

#include "core/alert_policy.hpp"

namespace mmsmon {
namespace json = boost::json;

json::object job_to_json(const Job& j) {
  json::object o;
  auto put = [&](std::string_view k, const auto& v) {
    if (v) o[k] = *v;
  };
  put("name", j.name);
  put("source_name", j.source_name);
  put("type", j.type);
  if (j.status)
    o["status"] = j.status == JobStatus::unknown ? j.status_raw : std::string(to_string(*j.status));
  put("stopped", j.stopped);
  put("task_num", j.task_num);
  put("task_done", j.task_done);
  if (j.task_num && j.task_done && *j.task_num > 0)
    o["progress_ratio"] = static_cast<double>(*j.task_done) / static_cast<double>(*j.task_num);
  put("src_db", j.src_db);
  put("src_schema", j.src_schema);
  put("dst_project", j.dst_db);
  put("dst_schema", j.dst_schema);
  if (j.create_time) o["create_time"] = rfc3339(*j.create_time);
  put("eta", j.eta_raw);
  if (!j.anomalies.empty()) {
    json::array a;
    for (const auto& s : j.anomalies)
      a.emplace_back(s);
    o["anomalies"] = std::move(a);
  }
  return o;
}

json::object error_to_json(const ApiError& e) {
  json::object o;
  o["reason"] = to_string(e.reason);
  o["message"] = e.message;
  if (!e.code.empty()) o["code"] = e.code;
  if (e.http_status) o["http_status"] = e.http_status;
  if (!e.request_id.empty()) o["request_id"] = e.request_id;
  return o;
}

}  // namespace mmsmon
