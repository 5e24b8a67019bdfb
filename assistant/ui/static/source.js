watch('value', () => {
  const doc = element.querySelector('.doc');
  const m = element.querySelector('mark');
  if (doc && m) doc.scrollTop = Math.max(0, m.offsetTop - doc.clientHeight / 4);
});
