"""The static HTML feature dashboard: one self-contained file, data inline, no server needed."""

import html
import json
from pathlib import Path

MAX_HTML_CONTEXTS = 4  # per latent in the HTML (the store keeps more)


def write_html(sae_dir: Path, store_dir: Path, path: Path) -> Path:
    """Render every latent of the store in `store_dir` into one `index.html`."""
    from training.dashboard import STORE_FILE, _load_store

    t, meta, tokens = _load_store(str(store_dir), (store_dir / STORE_FILE).stat().st_mtime)
    card = {}
    if (sae_dir / "card.json").exists():
        card = json.loads((sae_dir / "card.json").read_text())
    seqs, pos = t["seqs"], t["seqs"].shape[1]
    width = t["window_values"].shape[-1]
    used: set[int] = set()
    feats = []
    for f in range(t["density"].shape[0]):
        ctxs = []
        for r in range(min(MAX_HTML_CONTEXTS, t["top_token"].shape[1])):
            flat = int(t["top_token"][f, r])
            if flat < 0:
                break
            start = int(t["window_start"][f, r])
            ids = seqs[flat // pos, start : start + width].tolist()
            used.update(ids)
            vals = [round(float(v), 2) for v in t["window_values"][f, r, : len(ids)]]
            ctxs.append([ids, vals, flat % pos - start])
        pos_l = [
            [int(i), round(float(v), 2)]
            for i, v in zip(t["pos_ids"][f], t["pos_vals"][f], strict=True)
        ]
        neg_l = [
            [int(i), round(float(v), 2)]
            for i, v in zip(t["neg_ids"][f], t["neg_vals"][f], strict=True)
        ]
        used.update(i for i, _ in pos_l + neg_l)
        feats.append(
            [
                round(float(t["density"][f]), 6),
                round(float(t["max_activation"][f]), 3),
                t["hist_counts"][f].tolist(),
                ctxs,
                pos_l,
                neg_l,
            ]
        )
    data = {
        "title": f"{card.get('subject', {}).get('name', '')} · {meta.get('hook_name', '')}",
        "n_tokens": int(meta.get("n_tokens", 0)),
        "metrics": card.get("metrics", {}),
        "labels": card.get("labels", {}),
        "tok": {i: tokens.get(i, f"<{i}>") for i in sorted(used)},
        "f": feats,
    }
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    path.write_text(
        _PAGE.replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", blob)
    )
    return path


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SAE features · __TITLE__</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;display:flex;height:100vh}
#side{width:260px;overflow:auto;border-right:1px solid #ddd;padding:8px}
#main{flex:1;overflow:auto;padding:16px 24px}
#side div{cursor:pointer;padding:2px 4px;font-family:monospace}
#side div:hover{background:#eef}
.ctx{font-family:monospace;white-space:pre-wrap;margin:4px 0;padding:4px;border:1px solid #eee}
.ctx span{border-radius:2px}
.tok{display:inline-block;margin:1px 3px;padding:1px 4px;font-family:monospace;border-radius:3px}
h2{margin:4px 0}.muted{color:#777}
</style></head><body>
<div id="side"><input id="q" type="number" min="0" placeholder="feature id" style="width:120px">
<select id="sort"><option value="density">by density</option><option value="id">by id</option></select>
<div id="list"></div></div>
<div id="main"></div>
<script>
const D=__DATA__;
const esc=s=>s.replace(/&/g,"&amp;").replace(/</g,"&lt;").replace(/>/g,"&gt;");
const T=i=>esc(D.tok[i]??("<"+i+">"));
function hist(h,max){const m=Math.max(...h,1),w=300,bw=w/h.length;
 return `<svg width="${w}" height="80">`+h.map((c,i)=>`<rect x="${i*bw}" y="${80-70*c/m}" width="${bw-1}" height="${70*c/m}" fill="#69c"><title>${(max*i/h.length).toFixed(2)}–${(max*(i+1)/h.length).toFixed(2)}: ${c}</title></rect>`).join("")+"</svg>";}
function show(f){const x=D.f[f];if(!x)return;const [dens,max,h,ctx,pos,neg]=x;
 const lab=D.labels[f]?` — ${esc(D.labels[f])}`:"";
 let s=`<h2>Feature ${f}${lab}</h2><p class="muted">density ${(dens*100).toFixed(3)}% of ${D.n_tokens} tokens · max activation ${max}</p>`;
 s+=`<h3>Activation histogram</h3>${hist(h,max)}<h3>Top activating contexts</h3>`;
 for(const [ids,vals,at] of ctx){s+=`<div class="ctx">`+ids.map((t,j)=>{const a=max>0?vals[j]/max:0;
  return `<span title="${vals[j]}" style="background:rgba(255,120,0,${a.toFixed(2)});${j==at?'outline:1px solid #c40':''}">${T(t)}</span>`}).join("")+`</div>`;}
 if(!ctx.length)s+=`<p class="muted">never fired in the sample</p>`;
 s+=`<h3>Promoted tokens</h3>`+pos.map(([t,v])=>`<span class="tok" style="background:#dfd">${T(t)} ${v}</span>`).join("");
 s+=`<h3>Suppressed tokens</h3>`+neg.map(([t,v])=>`<span class="tok" style="background:#fdd">${T(t)} ${v}</span>`).join("");
 document.getElementById("main").innerHTML=s;location.hash=f;}
function list(){const by=document.getElementById("sort").value;let ids=D.f.map((_,i)=>i);
 if(by=="density")ids.sort((a,b)=>D.f[b][0]-D.f[a][0]);
 document.getElementById("list").innerHTML=ids.map(i=>`<div onclick="show(${i})">#${i} ${(D.f[i][0]*100).toFixed(2)}%</div>`).join("");}
document.getElementById("q").onchange=e=>show(+e.target.value);
document.getElementById("sort").onchange=list;
list();show(+(location.hash.slice(1))||0);
</script></body></html>
"""
