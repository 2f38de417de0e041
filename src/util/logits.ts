/** log-sum-exp of a row of logits, computed stably (float64). */
export function logSumExp(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

/** log-softmax(row)[target]: the log-probability of `target`. */
export function logProbability(row: ArrayLike<number>, target: number): number {
  return row[target] - logSumExp(row);
}
