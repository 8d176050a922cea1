"""The static HTML feature dashboard: one self-contained file, no server needed.

The data sits inline as gzip + base64 (the browser's DecompressionStream unpacks it), which keeps
a 4,608-latent page near a megabyte.
"""

import base64
import gzip
import html
import json
from pathlib import Path

from core.atomic import write_text_atomic
from core.labels import score_phrase

MAX_HTML_CONTEXTS = 3  # top windows per latent in the HTML (the store keeps more)
MAX_HTML_LEVELS = 2  # and windows at lower activation levels


def write_html(sae_dir: Path, store_dir: Path, path: Path) -> Path:
    """Render every latent of the store in `store_dir` into one `index.html`."""
    from core.dashboard import STORE_FILE, _read, example, read_card

    store = _read(str(store_dir), (store_dir / STORE_FILE).stat().st_mtime)
    t = store.t
    card = read_card(sae_dir)
    details = card.get("label_details", {})
    feats = []
    for f in range(store.d_sae):
        ctxs, levels = [], []
        for slot in range(t["ex_token"].shape[1]):
            level = int(t["ex_level"][f, slot])
            if (level == 0 and len(ctxs) >= MAX_HTML_CONTEXTS) or (
                level and (len(levels) >= MAX_HTML_LEVELS or any(lv == level for lv, _ in levels))
            ):
                continue
            ex = example(store, f, slot)
            if ex is None:
                continue
            m = ex.meta
            where = " · ".join(str(m[k]) for k in ("region", "topic", "label", "model") if m.get(k))
            lo = max(ex.index - 8, 0)  # a shorter window than the store's keeps the page small
            toks, acts = ex.tokens[lo : ex.index + 3], ex.activations[lo : ex.index + 3]
            item = [toks, [round(a, 1) for a in acts], ex.index - lo, where]
            (ctxs.append(item) if level == 0 else levels.append((level, item)))
        lab = details.get(str(f), {})
        feats.append(
            [
                round(float(t["density"][f]), 6),
                round(float(t["max_activation"][f]), 3),
                t["hist_counts"][f].tolist(),
                ctxs,
                [it for _, it in sorted(levels)],
                [[store.tokens.get(int(i), "?"), round(float(v), 2)] for i, v in zip(t["pos_ids"][f], t["pos_vals"][f], strict=True)],
                [[store.tokens.get(int(i), "?"), round(float(v), 2)] for i, v in zip(t["neg_ids"][f], t["neg_vals"][f], strict=True)],
                [round(float(t["median"][f]), 3), round(float(t["p99"][f]), 3)],
                [lab.get("text", ""), lab.get("detection"), lab.get("stats", ""), score_phrase(lab) if lab else ""],
            ]
        )  # fmt: skip
    data = {
        "title": f"{card.get('subject', {}).get('name', '') or sae_dir.name} · {store.meta.get('hook_name', '')}",
        "n_tokens": int(store.meta.get("n_tokens", 0)),
        "summary": card.get("labels_summary", {}).get("offline", {}),
        "f": feats,
    }  # fmt: skip
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob = base64.b64encode(gzip.compress(raw, 9)).decode("ascii")
    page = _PAGE.replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", blob)
    return write_text_atomic(path, page)  # a page made again never shows half of itself


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SAE features · __TITLE__</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;display:flex;height:100vh}
#side{width:300px;overflow:auto;border-right:1px solid #ddd;padding:8px}
#main{flex:1;overflow:auto;padding:16px 24px}
#list div{cursor:pointer;padding:2px 4px;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#list div:hover{background:#eef}
.ctx{font-family:monospace;white-space:pre-wrap;margin:4px 0;padding:4px;border:1px solid #eee}
.ctx span{border-radius:2px}.where{color:#777;font-size:11px}
.tok{display:inline-block;margin:1px 3px;padding:1px 4px;font-family:monospace;border-radius:3px}
h2{margin:4px 0}.muted{color:#777}
</style></head><body>
<div id="side"><input id="q" placeholder="feature id or words" style="width:200px">
<select id="sort"><option value="density">by density</option><option value="score">by label score</option><option value="id">by id</option></select>
<div id="list"></div></div>
<div id="main">loading…</div>
<script>
const B64="__DATA__";
let D;
const esc=s=>String(s).replace(/&/g,"&amp;").replace(/</g,"&lt;").replace(/>/g,"&gt;");
function hist(h,max){const m=Math.max(...h,1),w=300,bw=w/h.length;
 return `<svg width="${w}" height="80">`+h.map((c,i)=>`<rect x="${i*bw}" y="${80-70*c/m}" width="${bw-1}" height="${70*c/m}" fill="#69c"><title>${(max*i/h.length).toFixed(2)}–${(max*(i+1)/h.length).toFixed(2)}: ${c}</title></rect>`).join("")+"</svg>";}
function ctxHtml([toks,vals,at,where],max){return `<div class="ctx">`+toks.map((t,j)=>{const a=max>0?vals[j]/max:0;
  return `<span title="${vals[j]}" style="background:rgba(255,120,0,${a.toFixed(2)});${j==at?'outline:1px solid #c40':''}">${esc(t)}</span>`}).join("")+` <span class="where">${esc(where)}</span></div>`;}
function show(f){const x=D.f[f];if(!x)return;const [dens,max,h,ctx,lev,pos,neg,rng,lab]=x;
 let s=`<h2>Feature ${f}</h2>`;
 if(lab[0])s+=`<p><b>${esc(lab[0])}</b> <span class="muted">(${esc(lab[3])})</span><br><span class="muted">${esc(lab[2])}</span></p>`;
 s+=`<p class="muted">density ${(dens*100).toFixed(3)}% of ${D.n_tokens} tokens · max ${max} · median ${rng[0]} · p99 ${rng[1]}</p>`;
 s+=`<h3>Activation histogram</h3>${hist(h,max)}<h3>Top activating contexts</h3>`;
 s+=ctx.map(c=>ctxHtml(c,max)).join("")||`<p class="muted">never fired in the sample</p>`;
 if(lev.length)s+=`<h3>Lower activation levels</h3>`+lev.map(c=>ctxHtml(c,max)).join("");
 s+=`<h3>Promoted tokens</h3>`+pos.map(([t,v])=>`<span class="tok" style="background:#dfd">${esc(t)} ${v}</span>`).join("");
 s+=`<h3>Suppressed tokens</h3>`+neg.map(([t,v])=>`<span class="tok" style="background:#fdd">${esc(t)} ${v}</span>`).join("");
 document.getElementById("main").innerHTML=s;location.hash=f;}
function list(){const by=document.getElementById("sort").value,q=document.getElementById("q").value.toLowerCase().trim();
 let ids=D.f.map((_,i)=>i);
 if(q&&!/^\\d+$/.test(q))ids=ids.filter(i=>D.f[i][8][0].toLowerCase().includes(q));
 if(by=="density")ids.sort((a,b)=>D.f[b][0]-D.f[a][0]);
 if(by=="score")ids.sort((a,b)=>(D.f[b][8][1]??0)-(D.f[a][8][1]??0));
 document.getElementById("list").innerHTML=ids.slice(0,2000).map(i=>`<div onclick="show(${i})">#${i} ${esc(D.f[i][8][0]||((D.f[i][0]*100).toFixed(2)+"%"))}</div>`).join("");}
(async()=>{const b=Uint8Array.from(atob(B64),c=>c.charCodeAt(0));
 D=await new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream("gzip"))).json();
 const q=document.getElementById("q");
 q.oninput=()=>{if(/^\\d+$/.test(q.value.trim()))show(+q.value);list();};
 document.getElementById("sort").onchange=list;
 list();show(+(location.hash.slice(1))||0);})();
</script></body></html>
"""
