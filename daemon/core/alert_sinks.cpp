#include "core/alert_sinks.hpp"

#include <boost/json.hpp>

namespace mmsmon {
namespace json = boost::json;

std::string_view alert_description(AlertName n) {
  switch (n) {
    case AlertName::job_started:
      return "The job began running (or runs again after a retry). Nothing to do.";
    case AlertName::job_succeeded:
      return "The job finished: all its tasks are done. Check the migrated data as planned.";
    case AlertName::job_failed:
      return "The job failed: nothing of it runs any more. Open it in the MMS console, read "
             "the errors of its failed tasks, fix the cause and retry the failed tasks.";
    case AlertName::job_stopped:
      return "A user stopped the job; it makes no progress until resumed. Make sure it was "
             "meant, and resume it when it should go on.";
    case AlertName::job_resumed:
      return "The job was resumed after a stop. Nothing to do.";
    case AlertName::job_regressed:
      return "taskDone fell or taskNum changed: the job was edited or restarted, or the API "
             "answered inconsistently. Check in the MMS console that it is the job you expect.";
    case AlertName::job_not_found:
      return "The MMS API says the job does not exist: it was deleted, or the configured "
             "source_id/job_id is wrong. Fix or remove the job in mmsmon's config.";
    case AlertName::job_unreachable:
      return "mmsmon cannot poll the job: its data is getting old. Look at the reason (network, "
             "timeout, server errors) and at mmsmon's log; the MMS endpoint may be down.";
    case AlertName::job_stalled:
      return "The job runs but has made no progress for longer than its threshold: an agent "
             "offline, a quota used up or a hung task. Look at its running tasks and the data "
             "source's agent in the MMS console.";
    case AlertName::job_eta_at_risk:
      return "At the throughput seen, the job finishes later than its eta. Raise its priority "
             "(an earlier eta), add tunnel quota or agent capacity, or agree a new eta.";
    case AlertName::job_tasks_failed:
      return "Tasks of a running job have failed; the job stays DOING until nothing runs, so "
             "this is the early warning. Read the named errors, fix the cause and retry the "
             "failed tasks in the MMS console.";
    case AlertName::datasource_agent_offline:
      return "The MMS agent of the data source is offline: none of its jobs can make progress. "
             "Check the agent's host and process, its network path to the data source and to "
             "MaxCompute, and its log.";
    case AlertName::api_auth_failed:
      return "The MMS API rejects mmsmon's credentials or permissions: no job is watched. Check "
             "the AccessKey or role and that its RAM policy allows odps:GetMmsJob, "
             "odps:ListMmsTasks and odps:ListMmsTaskLogs.";
    case AlertName::api_throttled:
      return "The MMS API throttles mmsmon, so its data is older than configured. Lower the "
             "number of jobs or raise poll.interval, or ask for a higher API quota.";
  }
  return "";
}

namespace {

int severity_rank(std::string_view s) {
  return s == "critical" ? 2 : s == "warning" ? 1 : 0;
}

std::string fact_text(const Fact& f) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>)
          return v;
        else if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else
          return json::serialize(json::value(v));
      },
      f.value);
}

}  // namespace

bool severe_enough(const Alert& a, std::string_view min_severity) {
  return severity_rank(to_string(a.severity)) >= severity_rank(min_severity);
}

std::string alertmanager_key(const Alert& a) {
  std::string k(to_string(a.name));
  if (a.job)
    k += "/" + std::to_string(a.job->source.value) + "/" + std::to_string(a.job->job.value);
  return k;
}

std::string alertmanager_alert_json(const Alert& a, WallTime starts, std::optional<WallTime> ends,
                                    const AlertmanagerFormat& f) {
  json::object labels;
  for (const auto& [k, v] : f.labels)
    labels[k] = v;
  labels["alertname"] = to_string(a.name);
  labels["severity"] = to_string(a.severity);
  if (a.job) {
    labels["source_id"] = std::to_string(a.job->source.value);
    if (a.job->job != kSourceWide) labels["job_id"] = std::to_string(a.job->job.value);
  }
  if (a.job_name) labels["job_name"] = *a.job_name;
  json::object ann;
  for (const auto& fact : a.facts)
    if (fact.key != "update" && fact.key != "reminder") ann[fact.key] = fact_text(fact);
  ann["summary"] = a.summary;
  ann["description"] = alert_description(a.name);
  json::object o{{"labels", std::move(labels)},
                 {"annotations", std::move(ann)},
                 {"startsAt", rfc3339(starts)},
                 {"generatorURL", f.generator_url}};
  if (ends) o["endsAt"] = rfc3339(*ends);
  return json::serialize(o);
}

std::string webhook_json(const Alert& a) {
  std::string line = format_alert_json(a);
  json::value v = json::parse(line);
  v.as_object()["description"] = alert_description(a.name);
  return json::serialize(v);
}

}  // namespace mmsmon
