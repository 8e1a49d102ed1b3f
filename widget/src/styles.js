// The widget's stylesheet, adopted by its shadow root. `:host` rules are
// !important because, for important declarations, the shadow tree's rules win
// over the page's: a page rule like `* { all: unset !important }` cannot
// reach inside, and cannot hide or move the host. Sizes are in px, never rem,
// so the page's root font size changes nothing.
export const CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;right:0!important;bottom:0!important;width:0!important;height:0!important;overflow:visible!important;z-index:2147483647!important;visibility:visible!important;opacity:1!important;transform:none!important;filter:none!important;pointer-events:auto!important}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
.root{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1d1f;-webkit-font-smoothing:antialiased;text-align:left}
button,input,select,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer}
:focus-visible{outline:3px solid #1a3fa0;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border:0;border-radius:50%;background:var(--accent);color:var(--on-accent);display:flex;align-items:center;justify-content:center;box-shadow:0 4px 16px rgba(0,0,0,.25);padding:0}
.launcher:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px #1a3fa0}
.launcher svg{width:28px;height:28px}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#c5221f;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}
.panel{position:fixed;right:20px;bottom:88px;width:370px;height:min(600px,calc(100vh - 108px));background:#fff;border-radius:14px;box-shadow:0 8px 32px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}
header{background:var(--accent);color:var(--on-accent);padding:12px 8px 12px 16px;display:flex;align-items:center;gap:4px}
header .titles{flex:1;min-width:0}
h2{font-size:16px;font-weight:600;margin:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.icon{width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:inherit;display:flex;align-items:center;justify-content:center;padding:0}
.icon svg{width:20px;height:20px}
.icon[aria-pressed=true]{background:rgba(0,0,0,.18)}
header .icon:focus-visible{outline:3px solid var(--on-accent);outline-offset:-3px}
.notice{background:#fff4ce;color:#3b2f00;padding:8px 16px;font-size:13px}
.notice:empty{display:none}
.log{flex:1;overflow-y:auto;margin:0;padding:16px;list-style:none;display:flex;flex-direction:column;gap:6px}
.msg{display:flex;gap:8px;align-items:flex-end;max-width:85%}
.msg.mine{align-self:flex-end;flex-direction:row-reverse}
.body{display:flex;flex-direction:column;min-width:0}
.mine .body{align-items:flex-end}
.bubble{padding:8px 12px;border-radius:14px;background:#eef0f3;white-space:pre-wrap;overflow-wrap:anywhere}
.mine .bubble{background:var(--accent);color:var(--on-accent)}
.bubble a{color:inherit;text-decoration:underline}
.who,.meta{font-size:12px;color:#545b64;margin:2px 4px}
.failed .meta{color:#b3261e}
.avatar{flex:none;width:28px;height:28px;border-radius:50%;background:#dfe3ea;color:#1d1d1f;font-size:12px;font-weight:600;display:flex;align-items:center;justify-content:center;overflow:hidden}
.avatar img{width:100%;height:100%;object-fit:cover}
.typing{padding:0 16px 6px;font-size:13px;color:#545b64;font-style:italic}
.typing:empty{display:none}
form.composer{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid #e3e6ea}
textarea{flex:1;resize:none;min-height:40px;max-height:120px;border:1px solid #8a919b;border-radius:10px;padding:9px 12px;background:#fff;line-height:20px}
textarea:focus-visible,input:focus-visible,select:focus-visible{outline:2px solid #1a3fa0;outline-offset:0}
.send{flex:none;width:40px;height:40px;border:0;border-radius:10px;background:var(--accent);color:var(--on-accent);display:flex;align-items:center;justify-content:center;padding:0}
.send svg{width:20px;height:20px}
.card{padding:14px 16px;border-top:1px solid #e3e6ea;display:flex;flex-direction:column;gap:8px}
.card p{margin:0}
.card label{font-size:13px;font-weight:600}
.card input,.card select{width:100%;border:1px solid #8a919b;border-radius:8px;padding:8px 10px;background:#fff}
.primary{border:0;border-radius:8px;padding:9px 14px;background:var(--accent);color:var(--on-accent);font-weight:600;align-self:flex-start}
@media (max-width:479.98px){.panel{inset:0;right:0;bottom:0;width:100%;height:100%;border-radius:0}.open .launcher{display:none}}
@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}
`;
