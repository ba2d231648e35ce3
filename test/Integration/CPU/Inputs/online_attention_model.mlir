// mha.online_attention written directly in a model: one tile (no batch),
// dynamic sizes checked at run time.
func.func @f(%q: tensor<?x?xf32>, %k: tensor<?x?xf32>, %v: tensor<?x?xf32>,
             %acc: tensor<?x?xf32>, %m: tensor<?xf32>, %l: tensor<?xf32>)
    -> (tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>) {
  %c0 = arith.constant 0 : index
  %s = arith.constant 0.5 : f32
  %a:3 = mha.online_attention %q, %k, %v offsets(%c0, %c0) scale(%s) outs(%acc, %m, %l)
      : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>
  return %a#0, %a#1, %a#2 : tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>
}
