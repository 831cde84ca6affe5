"""The report page's inline CSS and JavaScript (render/html.py puts them in the page).

CSS: light and dark palettes (prefers-color-scheme), every text colour at a contrast of at least
4.5:1 on its background; nothing wider than the window at 390 px: long names break anywhere,
tables scroll inside their own box, charts scale with the page.

JavaScript: the filters, and a link to something folded in a <details> opens it. Every filterable element carries ``data-filter`` and, as it applies,
``data-severity`` (error|warning|info), ``data-roles`` and ``data-subsets`` (space-separated roles
and subset indices, never names: any folder name is safe). A section or ``[data-group]`` whose
filterable elements are all hidden is hidden with them, heading and all."""

CSS = """
:root{color-scheme:light dark;--bg:#f5f5f5;--fg:#1f1f1f;--card:#fff;--line:#d0d0d0;--th:#eee;--muted:#595959;
--err:#c62828;--warn:#9a5b00;--info:#1565c0;--train:#2a7530;--reg:#6a1b9a;--ok:#1b5e20;--bad-bg:#fdecea;
--ok-bg:#e8f5e9;--head:#263238;--head-fg:#fff;--code:#eceff1;--thumb:#e0e0e0}
@media (prefers-color-scheme:dark){:root{--bg:#121417;--fg:#e8e8e8;--card:#1e2227;--line:#3a4048;--th:#262b31;
--muted:#b0b0b0;--err:#ff8a80;--warn:#ffb74d;--info:#82b1ff;--train:#81c784;--reg:#ce93d8;--ok:#a5d6a7;
--bad-bg:#2a1d1d;--ok-bg:#1b261c;--head:#0b0d10;--head-fg:#e8e8e8;--code:#2b3036;--thumb:#2b3036}}
[hidden]{display:none!important}
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:var(--fg);background:var(--bg);
overflow-wrap:break-word}
code,.path,.file,b.name,figcaption,.why,.made{overflow-wrap:anywhere}
code,.path,.file{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
code{background:var(--code);padding:1px 5px;border-radius:4px}
header{background:var(--head);color:var(--head-fg);padding:14px 28px 18px}header h1{margin:0 0 10px;font-size:18px;font-weight:600}
.verdict{background:var(--ok-bg);color:var(--fg);border-left:8px solid var(--ok);border-radius:8px;padding:12px 16px;max-width:1100px}
.verdict.bad{background:var(--bad-bg);border-left-color:var(--err)}
.verdict .answer{font-size:19px;font-weight:700;margin:0 0 6px;color:var(--ok)}.verdict.bad .answer{color:var(--err)}
.verdict .why{margin:4px 0}.verdict ul.facts{margin:8px 0;padding-left:20px}.verdict ul.facts li{margin:2px 0}
.stage{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;border:1px solid currentColor;
border-radius:10px;padding:0 8px;margin-left:6px;vertical-align:2px}
dl.nums{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0 4px}
dl.nums div{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:4px 12px;min-width:96px}
dl.nums dt{font-size:12px;color:var(--muted)}dl.nums dd{margin:0;font-size:18px;font-weight:700}
.pills span{display:inline-block;margin:6px 8px 0 0;font-weight:600;padding:1px 10px;border-radius:12px;
border:1px solid currentColor;background:var(--card)}
.pills .z{color:var(--muted)}.e,.pills .e{color:var(--err)}.w,.pills .w{color:var(--warn)}.i,.pills .i{color:var(--info)}
nav.filters{position:sticky;top:0;background:var(--card);border-bottom:1px solid var(--line);padding:8px 28px;z-index:2;
display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center}
nav.filters label{display:flex;gap:6px;align-items:center;min-width:0;max-width:100%}
nav.filters select{min-width:0;max-width:100%;text-overflow:ellipsis;color:var(--fg);background:var(--card)}
main{padding:8px 28px 40px;max-width:1400px}section{margin-top:26px}h2{border-bottom:2px solid var(--line);padding-bottom:4px}
.made{color:var(--muted)}a{color:var(--info)}
ol.fixes{padding-left:26px;max-width:1100px}ol.fixes li{margin:6px 0}ol.fixes .codes{color:var(--muted);font-size:12px}
.sev{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;min-width:58px;margin-right:6px}
.sev.error{color:var(--err)}.sev.warning{color:var(--warn)}.sev.info{color:var(--info)}
.here{color:var(--err);font-weight:700;font-size:12px}
.nw{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table.figures{border-collapse:collapse;margin:6px 0}table.figures td,table.figures th{border:1px solid var(--line);padding:3px 10px;text-align:right}
table.figures th{background:var(--th);text-align:left}
dl.kv{display:flex;flex-wrap:wrap;gap:4px 6px;margin:8px 0}dl.kv div{border:1px solid var(--line);border-radius:4px;
padding:1px 8px;background:var(--bg)}dl.kv dt{display:inline;color:var(--muted);font-size:12px}
dl.kv dd{display:inline;margin:0 0 0 6px;font-weight:600;overflow-wrap:anywhere}
.subset{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--train);border-radius:6px;padding:10px 14px;margin:12px 0}
.subset[data-roles=reg]{border-left-color:var(--reg)}.role{font-weight:700;text-transform:uppercase;font-size:12px}
.role.train,.train{color:var(--train)}.role.reg,.reg{color:var(--reg)}
img{max-width:100%;height:auto}
.strip,.grid{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px;align-items:flex-start}
figure img,.nopreview{border-radius:4px;background:var(--thumb);max-width:128px;max-height:128px}
.nopreview{display:flex;align-items:center;justify-content:center;width:96px;height:72px;font-size:12px;color:var(--muted)}
.more{color:var(--muted);align-self:center}
figure{margin:0}figure.thumb{flex:0 0 auto;width:128px;min-width:0}
figcaption{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
figure.thumb figcaption{font-size:11.5px;line-height:1.35}figure.thumb figcaption span{display:block}
figure.thumb figcaption span:nth-child(3){display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
figcaption .sev{min-width:0;margin-right:4px;font-size:11px}
figure.viewed img{background:repeating-conic-gradient(var(--thumb) 0 25%,var(--card) 0 50%) 0 0/16px 16px}
.dup{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.dup.leakage{border-color:var(--err);border-width:2px}.dup figure.thumb{display:inline-block;margin:6px 8px 0 0;vertical-align:top}
.finding{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--info);border-radius:5px;padding:8px 12px;
margin:8px 0}
.finding.error{border-left-color:var(--err)}.finding.warning{border-left-color:var(--warn)}
.finding .code{font-weight:700}.finding .hint{color:var(--muted)}
.files{font-size:12.5px;margin-top:2px}.fix .files{color:var(--muted)}
details.fold>summary{cursor:pointer;color:var(--info);font-weight:600;margin:6px 0}
details.fold.inline{display:inline}details.fold.inline[open]{display:block}
ol.names{margin:2px 0;padding-left:22px;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,400px),1fr));gap:8px;margin:8px 0}
.imgcard{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--info);border-radius:6px;
padding:8px 12px;display:flex;min-width:0;flex-wrap:wrap;gap:8px 14px;scroll-margin-top:56px}
.imgcard.error{border-left-color:var(--err)}.imgcard.warning{border-left-color:var(--warn)}
.imgcard:target{outline:2px solid var(--info)}
.imgcard .previews{display:flex;flex-wrap:wrap;gap:8px}.imgcard .previews figure{max-width:128px}
.imgcard .about{flex:1 1 220px;min-width:0}.imgcard .about .path{font-weight:600}
.imgcard .cap{margin:2px 0;overflow-wrap:anywhere}.imgcard ul.problems{margin:4px 0;padding:0;list-style:none}
.imgcard ul.problems .sev{min-width:0}
.note{color:var(--muted);font-size:12.5px;margin:2px 0}
.sev-title.error{color:var(--err)}.sev-title.warning{color:var(--warn)}.sev-title.info{color:var(--info)}
svg.chart{display:block;width:100%;height:auto}svg.chart text{font:12px system-ui,sans-serif;fill:currentColor}
svg .b-train{fill:var(--train)}svg .b-reg{fill:var(--reg)}
.crash{color:var(--err);font-weight:700}
.capset{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 14px;margin:8px 0}
table.tags td,table.tags th{text-align:left;vertical-align:top}ol.captions{margin:4px 0;padding-left:22px}
ol.captions li{margin:2px 0;overflow-wrap:anywhere}.captions .tok,.tok{color:var(--muted);font-size:12px}.captions .over{color:var(--err);font-weight:600}
@media (max-width:640px){header,main{padding-left:12px;padding-right:12px}nav.filters{padding:6px 12px}
.verdict{padding:10px 12px}.verdict .answer{font-size:17px}ol.fixes{padding-left:20px}
.strip{flex-wrap:nowrap;overflow-x:auto;padding-bottom:4px}figure.thumb{width:112px}figure img{max-width:112px}}
"""

JS = """
(function(){
  var onlyErrors=document.getElementById('f-errors'),onlyReg=document.getElementById('f-reg'),sub=document.getElementById('f-subset');
  function has(list,v){return (' '+list+' ').indexOf(' '+v+' ')>=0}
  function apply(){
    document.querySelectorAll('[data-filter]').forEach(function(el){
      var d=el.dataset,show=true;
      if(onlyErrors.checked && d.severity!==undefined && d.severity!=='error') show=false;
      if(onlyReg.checked && d.roles!==undefined && !has(d.roles,'reg')) show=false;
      if(sub.value!=='' && d.subsets!==undefined && !has(d.subsets,sub.value)) show=false;
      el.hidden=!show;
    });
    document.querySelectorAll('main section,[data-group]').forEach(function(g){
      var items=g.querySelectorAll('[data-filter]'),shown=items.length===0;
      for(var k=0;k<items.length&&!shown;k++) if(!items[k].hidden) shown=true;
      g.hidden=!shown;
    });
    var n=document.querySelectorAll('[data-filter]:not([hidden])').length;
    document.getElementById('f-count').textContent=(onlyErrors.checked||onlyReg.checked||sub.value!=='')?n+' items shown':'';
  }
  [onlyErrors,onlyReg,sub].forEach(function(c){c.addEventListener('change',apply)});
  function reveal(){
    var id=location.hash.slice(1),el=id&&document.getElementById(id);
    if(!el) return;
    for(var p=el.parentElement;p;p=p.parentElement) if(p.tagName==='DETAILS') p.open=true;
    el.scrollIntoView();
  }
  window.addEventListener('hashchange',reveal);
  reveal();
  document.getElementById('filters').hidden=false;
  apply();
})();
"""
