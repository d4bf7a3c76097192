// llama.cpp baseline for SuperLens's engine benchmarks, through the npm
// package node-llama-cpp (its prebuilt CPU binaries; nothing is compiled).
//
//   node bench/llamacpp/bench_llamacpp.mjs MODEL.gguf [--threads 2] [--tokens 128 | --ids 1,5,77]
//        [--decode 32] [--runs 3] [--flash-attn] [--kv-type F16|F32] [--logits]
//
// Prints one JSON line. Timing mode: prompt tokens/s (the whole prompt in one
// batch, logits of its last position) and decode tokens/s (N single-token
// greedy steps on the KV cache), median of --runs after one warm-up run (the
// best run beside them: prompt_tok_s_best, decode_tok_s_best).
// --logits: evaluate the ids once and print {"ids", "logits"} of the last
// position (the same shape as `superlens-cli logits MODEL --ids ... --json`).
// --serve: after the warm-up print {"ready":...}, then one timed run per line
// read from stdin, each printed as {"prompt_s", "decode_s"} (bench/paired_decode.py
// alternates it with SuperLens, seconds apart); ends at end of input.
// --kv-type: the KV cache's type; llama.cpp's default is F16 (used for the
// timings), F32 makes the logit check measure the weights alone.
//
// node-llama-cpp is imported from $SL_LLAMACPP_DIR/node_modules (default
// /tmp/sl-llamacpp), where bench/llamacpp/run.sh installs it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
    const a = {model: null, threads: 2, tokens: 128, ids: null, decode: 32, runs: 3, flashAttn: false, kvType: "F16", logits: false, serve: false, dir: process.env.SL_LLAMACPP_DIR || "/tmp/sl-llamacpp"};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
            return argv[++i];
        };
        if (k === "--threads") a.threads = parseInt(next(), 10);
        else if (k === "--tokens") a.tokens = parseInt(next(), 10);
        else if (k === "--ids") a.ids = next().split(",").map((s) => parseInt(s, 10));
        else if (k === "--decode") a.decode = parseInt(next(), 10);
        else if (k === "--runs") a.runs = parseInt(next(), 10);
        else if (k === "--flash-attn") a.flashAttn = true;
        else if (k === "--logits") a.logits = true;
        else if (k === "--serve") a.serve = true;
        else if (k === "--kv-type") a.kvType = next().toUpperCase();
        else if (k === "--dir") a.dir = next();
        else if (k === "-h" || k === "--help") {
            console.log(fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
            process.exit(0);
        } else if (!k.startsWith("--") && a.model == null) a.model = k;
        else throw new Error(`unknown argument ${k}`);
    }
    if (a.model == null) throw new Error("usage: bench_llamacpp.mjs MODEL.gguf [options] (--help)");
    return a;
}

// the prompt bench/run_engine_bench.py feeds SuperLens and PyTorch, clipped to the vocabulary
function benchIds(T, nVocab) {
    const ids = [1];
    for (let i = 0; i < T - 1; i++) ids.push((7 + (i * 7919) % 30000) % nVocab);
    return ids;
}

const median = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e9;

async function main() {
    const loadavgAtStart = os.loadavg()[0];
    const a = parseArgs(process.argv.slice(2));
    const pkgDir = path.join(a.dir, "node_modules", "node-llama-cpp");
    if (!fs.existsSync(pkgDir)) throw new Error(`${pkgDir} not found: run bench/llamacpp/run.sh install first`);
    const nlc = await import(pathToFileURL(path.join(pkgDir, "dist", "index.js")).href);
    const nlcVersion = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;

    const logs = [];
    const llama = await nlc.getLlama({
        gpu: false,
        build: "never",           // never compile llama.cpp, never download its source: prebuilt binaries or fail
        usePrebuiltBinaries: true,
        maxThreads: a.threads,
        logLevel: nlc.LlamaLogLevel.debug,
        logger: (level, message) => logs.push(String(message).trimEnd()),
        progressLogs: false,
    });
    const model = await llama.loadModel({modelPath: a.model, gpuLayers: 0});
    const nVocab = model.fileInfo.metadata?.llama?.vocab_size ?? model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
    const ids = a.ids ?? benchIds(a.tokens, nVocab);
    const T = ids.length;
    const nDecode = a.logits ? 0 : a.decode;
    const context = await model.createContext({
        contextSize: Math.max(64, T + nDecode + 8),
        batchSize: Math.max(T, 8),
        threads: {ideal: a.threads, min: a.threads},
        flashAttention: a.flashAttn,
        experimentalKvCacheKeyType: a.kvType,
        experimentalKvCacheValueType: a.kvType,
        sequences: 1,
    });
    const seq = context.getSequence();

    if (a.logits) {
        const input = ids.map((t, i) => (i === T - 1 ? [t, {generateNext: {logits: true}}] : t));
        const out = await seq.controlledEvaluate(input);
        const m = out[T - 1].next.logits;
        const logits = new Array(m.size);
        for (const [tok, v] of m) logits[tok] = v;
        console.log(JSON.stringify({ids, logits, n_vocab: nVocab, kv_type: a.kvType, llama_cpp_release: llama.llamaCppRelease.release}));
        await context.dispose();
        await model.dispose();
        await llama.dispose();
        return;
    }

    const greedy = {generateNext: {token: true, options: {temperature: 0}}};
    async function once() {
        await seq.clearHistory();
        const input = ids.map((t, i) => (i === T - 1 ? [t, greedy] : t));
        const t0 = now();
        const out = await seq.controlledEvaluate(input);
        const t1 = now();
        let tok = out[T - 1].next.token;
        const generated = [tok];
        const t2 = now();
        for (let i = 0; i < nDecode; i++) {
            const o = await seq.controlledEvaluate([[tok, greedy]]);
            tok = o[0].next.token;
            generated.push(tok);
        }
        const t3 = now();
        return {prompt_s: t1 - t0, decode_s: t3 - t2, generated};
    }

    await once(); // warm-up: page in the weights, allocate buffers
    if (a.serve) {
        console.log(JSON.stringify({ready: true, T, n_decode: nDecode, flash_attention: context.flashAttention, model: path.basename(a.model)}));
        for await (const line of readline.createInterface({input: process.stdin})) {
            if (!line.trim()) continue;
            const r = await once();
            console.log(JSON.stringify({prompt_s: r.prompt_s, decode_s: r.decode_s}));
        }
        await context.dispose();
        await model.dispose();
        await llama.dispose();
        return;
    }
    const runs = [];
    for (let r = 0; r < a.runs; r++) runs.push(await once());
    const promptS = median(runs.map((r) => r.prompt_s));
    const decodeS = median(runs.map((r) => r.decode_s));

    const fileType = model.fileInfo.metadata?.general?.file_type;
    const cpuBackend = logs.filter((l) => /load_backend|CPU backend|cpu.*\.so/i.test(l)).slice(0, 3);
    const result = {
        prompt_tok_s: T / promptS,
        decode_tok_s: nDecode ? nDecode / decodeS : null,
        prompt_tok_s_best: T / Math.min(...runs.map((r) => r.prompt_s)),
        decode_tok_s_best: nDecode ? nDecode / Math.min(...runs.map((r) => r.decode_s)) : null,
        prompt_s: runs.map((r) => +r.prompt_s.toFixed(4)),
        decode_s: runs.map((r) => +r.decode_s.toFixed(4)),
        threads: a.threads,
        type: fileType === 0 ? "f32" : fileType === 1 ? "f16" : `file_type ${fileType}`,
        T,
        n_decode: nDecode,
        flash_attention: context.flashAttention,
        kv_cache_type: a.kvType,
        context_size: context.contextSize,
        batch_size: context.batchSize,
        greedy_tokens_same_across_runs: runs.every((r) => r.generated.join() === runs[0].generated.join()),
        model: path.basename(a.model),
        model_bytes: fs.statSync(a.model).size,
        node_llama_cpp: nlcVersion,
        llama_cpp_build: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release}`,
        binary: llama.buildType,
        gpu: llama.gpu,
        cpu_math_cores: llama.cpuMathCores,
        system_info: llama.systemInfo,
        cpu_backend_log: cpuBackend,
        cpu_model: os.cpus()[0]?.model,
        loadavg_1m_at_start: loadavgAtStart,
    };
    console.log(JSON.stringify(result));
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
});
