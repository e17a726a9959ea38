#!/usr/bin/env node
// Offline schema validation of Kubernetes objects: `node validate.js FILE...` (multi-document YAML; `-` = stdin).
// Built-in kinds are validated against the Kubernetes OpenAPI schemas (kubernetes-models), ServiceMonitor and
// PodMonitor against the Prometheus Operator's CRD schemas (@kubernetes-models/prometheus-operator), MPIJob
// (kubeflow.org/v2beta1) against the fields of kubeflow/mpi-operator's v2beta1 types, written out below, with each
// replica's pod template validated as a core/v1 PodTemplateSpec. A kind it does not know is an error.
// Prints one line per object (`ok KIND NAME` or `error KIND NAME: ...`); exit 0 when every object is valid, 1 otherwise.
// Limits: these OpenAPI schemas check types, required fields and enums; they allow unknown fields (a server's strict
// field validation would refuse them) and know nothing of admission rules.
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  if (group === "monitoring.coreos.com")
    return require(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`)[kind];
  if (!/^[A-Za-z0-9]+$/.test(kind)) return undefined;
  try {
    return require(`kubernetes-models/${group ? `${group}/` : ""}${version}/${kind}`)[kind];
  } catch (e) {
    return undefined;
  }
}

const { PodTemplate } = require("kubernetes-models/v1/PodTemplate");

function checkMpiJob(obj) {
  const errors = [];
  const isInt = (v) => Number.isInteger(v);
  const spec = obj.spec;
  if (!obj.metadata || typeof obj.metadata.name !== "string") errors.push("metadata.name must be a string");
  if (!spec || typeof spec !== "object") return errors.concat("spec is required");
  const known = ["slotsPerWorker", "runLauncherAsWorker", "runPolicy", "mpiReplicaSpecs", "sshAuthMountPath",
    "launcherCreationPolicy", "mpiImplementation"];
  for (const key of Object.keys(spec)) if (!known.includes(key)) errors.push(`spec.${key} is not a field of MPIJob v2beta1`);
  if (spec.slotsPerWorker !== undefined && !(isInt(spec.slotsPerWorker) && spec.slotsPerWorker >= 1)) errors.push("spec.slotsPerWorker must be an integer >= 1");
  if (spec.runLauncherAsWorker !== undefined && typeof spec.runLauncherAsWorker !== "boolean") errors.push("spec.runLauncherAsWorker must be a boolean");
  if (spec.sshAuthMountPath !== undefined && typeof spec.sshAuthMountPath !== "string") errors.push("spec.sshAuthMountPath must be a string");
  if (spec.mpiImplementation !== undefined && !["OpenMPI", "Intel", "MPICH"].includes(spec.mpiImplementation)) errors.push("spec.mpiImplementation must be OpenMPI, Intel or MPICH");
  if (spec.launcherCreationPolicy !== undefined && !["AtStartup", "WaitForWorkersReady"].includes(spec.launcherCreationPolicy)) errors.push("spec.launcherCreationPolicy must be AtStartup or WaitForWorkersReady");
  const rp = spec.runPolicy;
  if (rp !== undefined) {
    const rpKnown = ["cleanPodPolicy", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit", "schedulingPolicy", "suspend", "managedBy"];
    for (const key of Object.keys(rp)) if (!rpKnown.includes(key)) errors.push(`spec.runPolicy.${key} is not a field of RunPolicy`);
    if (rp.cleanPodPolicy !== undefined && !["None", "Running", "All"].includes(rp.cleanPodPolicy)) errors.push("spec.runPolicy.cleanPodPolicy must be None, Running or All");
    for (const key of ["ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit"])
      if (rp[key] !== undefined && !(isInt(rp[key]) && rp[key] >= 0)) errors.push(`spec.runPolicy.${key} must be an integer >= 0`);
    if (rp.suspend !== undefined && typeof rp.suspend !== "boolean") errors.push("spec.runPolicy.suspend must be a boolean");
  }
  const replicas = spec.mpiReplicaSpecs;
  if (!replicas || typeof replicas !== "object") return errors.concat("spec.mpiReplicaSpecs is required");
  for (const type of Object.keys(replicas)) if (!["Launcher", "Worker"].includes(type)) errors.push(`spec.mpiReplicaSpecs.${type}: only Launcher and Worker exist`);
  if (!replicas.Launcher) errors.push("spec.mpiReplicaSpecs.Launcher is required");
  for (const [type, replica] of Object.entries(replicas)) {
    const at = `spec.mpiReplicaSpecs.${type}`;
    for (const key of Object.keys(replica)) if (!["replicas", "template", "restartPolicy"].includes(key)) errors.push(`${at}.${key} is not a field of ReplicaSpec`);
    if (replica.replicas !== undefined && !(isInt(replica.replicas) && replica.replicas >= 0)) errors.push(`${at}.replicas must be an integer >= 0`);
    if (type === "Launcher" && replica.replicas !== undefined && replica.replicas !== 1) errors.push(`${at}.replicas must be 1`);
    if (replica.restartPolicy !== undefined && !["Always", "OnFailure", "Never", "ExitCode"].includes(replica.restartPolicy)) errors.push(`${at}.restartPolicy must be Always, OnFailure, Never or ExitCode`);
    if (!replica.template || !replica.template.spec || !Array.isArray(replica.template.spec.containers) || replica.template.spec.containers.length === 0)
      errors.push(`${at}.template.spec.containers is required`);
    else {
      try {
        new PodTemplate({ metadata: { name: "check" }, template: replica.template }).validate();
      } catch (e) {
        errors.push(`${at}: ${e.message.replace(/data\/template/g, "template")}`);
      }
    }
  }
  return errors;
}

function validate(obj) {
  if (!obj || typeof obj !== "object") return ["not an object"];
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") return ["apiVersion and kind are required"];
  if (obj.apiVersion === "kubeflow.org/v2beta1" && obj.kind === "MPIJob") return checkMpiJob(obj);
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [e.message];
  }
}

let failed = false;
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.js FILE... (multi-document YAML; - = stdin)");
  process.exit(2);
}
for (const file of files) {
  const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
  for (const obj of yaml.loadAll(text)) {
    if (obj === null || obj === undefined) continue;
    const name = `${obj.kind} ${obj.metadata && obj.metadata.name}`;
    const errors = validate(obj);
    if (errors.length === 0) console.log(`ok ${name}`);
    else {
      failed = true;
      console.log(`error ${name}: ${errors.join("; ")}`);
    }
  }
}
process.exit(failed ? 1 : 0);
