"""The core equation list: every einsum shape einsql supports, with operand shapes.

Each entry is ``(equation, shapes)``. Sizes are small and mostly distinct so a
wrong axis order cannot pass by accident. Grouped by what each group exercises.
"""

from __future__ import annotations

S2, S3, S4, S5 = 2, 3, 4, 5

EQUATIONS: list[tuple[str, list[tuple[int, ...]]]] = [
    # --- matrix and vector products -------------------------------------------------
    ("ij,jk->ik", [(2, 3), (3, 4)]),  # matrix product
    ("ij,jk->ki", [(2, 3), (3, 4)]),  # matrix product, transposed output
    ("ij,kj->ik", [(2, 3), (4, 3)]),  # A B^T
    ("ji,jk->ik", [(3, 2), (3, 4)]),  # A^T B
    ("ij,j->i", [(3, 4), (4,)]),  # matrix-vector
    ("j,jk->k", [(3,), (3, 4)]),  # vector-matrix
    ("i,i->", [(5,), (5,)]),  # dot product
    ("i,i", [(5,), (5,)]),  # dot product, implicit output
    ("ij,ij->", [(3, 4), (3, 4)]),  # Frobenius inner product
    ("i,ij,j->", [(3,), (3, 4), (4,)]),  # bilinear form
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),  # matrix chain of three
    ("ij,jk,kl,lm->im", [(2, 3), (3, 4), (4, 2), (2, 5)]),  # chain of four
    ("ab,bc,cd,de,ef->af", [(2, 3), (3, 2), (2, 4), (4, 3), (3, 2)]),  # chain of five
    ("ij,jk,ki->", [(2, 3), (3, 4), (4, 2)]),  # trace of a product (a cycle)
    ("ij,jk,ki->i", [(2, 3), (3, 4), (4, 2)]),  # diagonal of a cyclic product
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),  # batched matrix product
    ("bij,jk->bik", [(2, 3, 4), (4, 5)]),  # batch times shared matrix
    ("ijk,jl->ilk", [(2, 3, 4), (3, 5)]),  # mode-2 product
    ("ijk,kl->ijl", [(2, 3, 4), (4, 5)]),  # mode-3 product
    ("ijk,il->ljk", [(2, 3, 4), (2, 5)]),  # mode-1 product
    ("ijk,jr,kr->ir", [(3, 4, 5), (4, 2), (5, 2)]),  # MTTKRP
    ("ijk,ir,jr,kr->", [(3, 4, 5), (3, 2), (4, 2), (5, 2)]),  # CP inner product
    ("ir,jr,kr->ijk", [(3, 2), (4, 2), (5, 2)]),  # CP reconstruction (a hyperedge)
    ("ijkl,jm,kn->imnl", [(2, 3, 4, 2), (3, 2), (4, 3)]),  # two mode products
    ("pqrs,tr,us->pqtu", [(2, 2, 3, 4), (2, 3), (3, 4)]),  # Tucker-style
    ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),  # contraction over two indices
    ("ijkl,klmn->ijmn", [(2, 2, 3, 3), (3, 3, 2, 2)]),  # tensor product over a pair
    ("abc,cde,efa->bdf", [(2, 3, 4), (4, 2, 3), (3, 2, 2)]),  # triangle of tensors
    ("ij,jk,kl,li->", [(2, 3), (3, 4), (4, 5), (5, 2)]),  # trace of four
    ("ab,ac,ad,ae->bcde", [(2, 2), (2, 3), (2, 2), (2, 3)]),  # star around a
    # --- permutations and copies ----------------------------------------------------
    ("ij->ji", [(3, 4)]),  # transpose
    ("ij->ij", [(3, 4)]),  # identity
    ("i->i", [(5,)]),  # vector identity
    ("ijk->kji", [(2, 3, 4)]),  # reverse axes
    ("ijk->jki", [(2, 3, 4)]),  # cyclic permutation
    ("ijkl->ljik", [(2, 3, 4, 5)]),  # four-axis permutation
    ("ba", [(3, 4)]),  # implicit output sorts labels: a transpose
    ("ij", [(3, 4)]),  # implicit identity
    ("cab", [(2, 3, 4)]),  # implicit permutation
    # --- traces and diagonals inside one operand ------------------------------------
    ("ii->i", [(4, 4)]),  # diagonal
    ("ii->", [(4, 4)]),  # trace
    ("ii", [(4, 4)]),  # trace, implicit
    ("iji->j", [(3, 4, 3)]),  # partial trace, outer axes
    ("iij->j", [(3, 3, 4)]),  # partial trace, leading axes
    ("jii->j", [(4, 3, 3)]),  # partial trace, trailing axes
    ("iii->i", [(3, 3, 3)]),  # 3-way diagonal
    ("iii->", [(3, 3, 3)]),  # 3-way trace
    ("iij->ij", [(3, 3, 4)]),  # keep diagonal and free axis
    ("ijij->ij", [(2, 3, 2, 3)]),  # diagonal over a pair of pairs
    ("ijji->", [(2, 3, 3, 2)]),  # double trace
    ("ii,jj->ij", [(3, 3), (4, 4)]),  # outer product of two diagonals
    ("ii,i->i", [(3, 3), (3,)]),  # diagonal times vector
    ("ii,ij->j", [(3, 3), (3, 4)]),  # diagonal row-scaling then sum
    ("ij,jj->i", [(3, 4), (4, 4)]),  # matrix times diagonal as vector
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),  # diagonal then product
    ("aab,bcc->ac", [(2, 2, 3), (3, 4, 4)]),  # diagonals on both sides
    ("ijj,ikk->jk", [(2, 3, 3), (2, 4, 4)]),  # diagonals joined over i
    ("ii,ii->i", [(3, 3), (3, 3)]),  # Hadamard of diagonals
    ("iijj->", [(2, 2, 3, 3)]),  # trace of two pairs
    # --- sums over indices that occur in one operand only ---------------------------
    ("ij->i", [(3, 4)]),  # row sums
    ("ij->j", [(3, 4)]),  # column sums
    ("ij->", [(3, 4)]),  # total sum
    ("ijk->j", [(2, 3, 4)]),  # sum two axes
    ("ijk->ik", [(2, 3, 4)]),  # sum middle axis
    ("i->", [(5,)]),  # vector sum
    ("ij,k->ik", [(3, 4), (5,)]),  # sum j in the first, outer with second
    ("ij,kl->ik", [(3, 4), (2, 5)]),  # sums in both operands, outer product
    ("ij,jk->", [(3, 4), (4, 5)]),  # sum of a product
    ("ij,jk->j", [(3, 4), (4, 5)]),  # sum both outer indices
    ("ijk,k->i", [(2, 3, 4), (4,)]),  # j summed in one operand only
    ("abc,cd->a", [(2, 3, 4), (4, 5)]),  # b and d each in one operand
    ("i,j->", [(3,), (4,)]),  # product of two sums
    ("ij,j,k->i", [(3, 4), (4,), (5,)]),  # independent factor
    ("ijk,ijl->", [(2, 3, 4), (2, 3, 5)]),  # k and l local
    # --- Hadamard and elementwise ---------------------------------------------------
    ("ij,ij->ij", [(3, 4), (3, 4)]),  # Hadamard product
    ("ij,ji->ij", [(3, 4), (4, 3)]),  # Hadamard with a transpose
    ("i,i->i", [(5,)] * 2),  # vector Hadamard
    ("i,i,i->i", [(5,)] * 3),  # three-way Hadamard
    ("ijk,ijk->ijk", [(2, 3, 4)] * 2),  # 3-d Hadamard
    ("ijk,ikj->ijk", [(2, 3, 4), (2, 4, 3)]),  # Hadamard with permutation
    ("ij,ij,ij->ij", [(3, 4)] * 3),  # three matrices
    ("ij,ij->ji", [(3, 4)] * 2),  # Hadamard then transpose
    ("ij,i->ij", [(3, 4), (3,)]),  # row scaling
    ("ij,j->ij", [(3, 4), (4,)]),  # column scaling
    ("i,ij,j->ij", [(3,), (3, 4), (4,)]),  # two-sided scaling
    ("ij,ij", [(3, 4)] * 2),  # implicit: Frobenius product
    # --- outer products -------------------------------------------------------------
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("i,j->ji", [(3,), (4,)]),  # outer product, transposed
    ("i,j", [(3,), (4,)]),  # implicit outer product
    ("i,j,k->ijk", [(2,), (3,), (4,)]),  # triple outer product
    ("ij,kl->ijkl", [(2, 3), (2, 2)]),  # Kronecker-like
    ("ij,kl->ikjl", [(2, 3), (2, 2)]),  # interleaved outer product
    ("ij,k->kij", [(2, 3), (4,)]),  # matrix times vector outer
    ("i,jk->ijk", [(2,), (3, 4)]),  # vector times matrix outer
    ("a,b,c,d->abcd", [(2,), (2,), (3,), (2,)]),  # four-way outer
    ("ij,kl", [(2, 3), (2, 2)]),  # implicit outer
    # --- hyperedges: one index shared by three or more operands ---------------------
    ("i,i,i->", [(5,)] * 3),  # three-way dot
    ("i,i,i,i->", [(4,)] * 4),  # four-way dot
    ("ij,ik,il->jkl", [(3, 2), (3, 4), (3, 2)]),  # hyperedge summed away
    ("ij,ik,il->ijkl", [(3, 2), (3, 4), (3, 2)]),  # hyperedge kept in output
    ("ai,bi,ci->abc", [(2, 3), (2, 3), (4, 3)]),  # hyperedge over the last axis
    ("ij,jk,jl->ikl", [(2, 3), (3, 4), (3, 2)]),  # hyperedge in the middle
    ("ij,jk,jl->jikl", [(2, 3), (3, 4), (3, 2)]),  # hyperedge kept, leading
    ("ab,ac,ad,bc->d", [(2, 3), (2, 2), (2, 4), (3, 2)]),  # mixed hypergraph
    ("ijk,ijl,ijm->klm", [(2, 2, 3), (2, 2, 2), (2, 2, 3)]),  # two hyperedges
    ("ai,aj,ak,al->ijkl", [(3, 2), (3, 2), (3, 3), (3, 2)]),  # 4-way hyperedge, outer
    ("i,ij,ik,il->i", [(3,), (3, 2), (3, 2), (3, 2)]),  # hyperedge with local sums
    ("ab,bc,ca,abc->", [(2, 3), (3, 4), (4, 2), (2, 3, 4)]),  # triangle plus hyperedge
    ("i,i,j,j->ij", [(3,), (3,), (4,), (4,)]),  # two hyperedges kept
    ("ijk,i,j,k->", [(2, 3, 4), (2,), (3,), (4,)]),  # weighted total
    # --- ellipsis and broadcasting --------------------------------------------------
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),  # batched matmul with ellipsis
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]),  # broadcast batch dimensions
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),  # implicit with ellipsis
    ("...i,...i->...", [(2, 3, 4), (2, 3, 4)]),  # batched dot
    ("...ii->...i", [(2, 3, 3)]),  # batched diagonal
    ("...ii->...", [(2, 3, 3)]),  # batched trace
    ("i...->...", [(3, 2, 4)]),  # sum the leading axis
    ("...->...", [(2, 3)]),  # identity with ellipsis
    ("...", [(2, 3)]),  # implicit ellipsis identity
    ("ij...,jk...->ik...", [(2, 3, 4), (3, 2, 4)]),  # trailing ellipsis
    ("...ij,j->...i", [(2, 3, 4), (4,)]),  # ellipsis only on one side
    ("i...,i...->...", [(3, 1, 4), (3, 2, 1)]),  # size-1 broadcast inside ellipsis
    ("ij,jk->ik", [(2, 1), (3, 4)]),  # size-1 broadcast of a labelled axis
    ("ij,ij->ij", [(1, 4), (3, 1)]),  # size-1 broadcast on both operands
    ("ij,j->i", [(3, 4), (1,)]),  # vector of one broadcast
    ("...,...->...", [(2, 3), (3,)]),  # elementwise with broadcasting
    ("a...,...->a...", [(2, 3, 1), (4,)]),  # broadcast over an ellipsis of two
    ("...i,i...->...", [(2, 3), (3, 2)]),  # ellipsis before and after
    # --- scalars and 0-d operands ---------------------------------------------------
    (",->", [(), ()]),  # product of two scalars
    (",i->i", [(), (4,)]),  # scalar times vector
    ("i,->i", [(4,), ()]),  # vector times scalar
    (",ij->ij", [(), (2, 3)]),  # scalar times matrix
    ("->", [()]),  # scalar identity
    (",,->", [(), (), ()]),  # product of three scalars
    (",ij,jk->ik", [(), (2, 3), (3, 4)]),  # scaled matrix product
    ("...,...", [(), (3,)]),  # implicit broadcast of a scalar
    # --- zero-size axes -------------------------------------------------------------
    ("ij,jk->ik", [(2, 0), (0, 3)]),  # contraction over an empty axis: zeros
    ("ij,jk->ik", [(0, 3), (3, 4)]),  # empty output axis
    ("ij->", [(0, 4)]),  # sum over nothing
    ("i,j->ij", [(0,), (3,)]),  # empty outer product
    ("ii->i", [(0, 0)]),  # empty diagonal
    ("ijk,k->ij", [(2, 0, 3), (3,)]),  # empty middle axis kept
    ("i,i->", [(0,), (0,)]),  # empty dot product
    # --- unicode labels (beyond NumPy's a-zA-Z) -------------------------------------
    ("αβ,βγ->αγ", [(2, 3), (3, 4)]),  # Greek labels
    ("ɑɑ->ɑ", [(3, 3)]),  # diagonal with a non-ASCII label
    ("是的,的了->是了", [(2, 3), (3, 2)]),  # CJK labels
    ("0 1, 1 2 -> 0 2", [(2, 3), (3, 4)]),  # digits as labels, spaces ignored
    ("ĀĂ,ĂĄ,ĄĀ->", [(2, 3), (3, 2), (2, 2)]),  # extended Latin cycle
    ("i j , j k", [(2, 3), (3, 4)]),  # spaces ignored, implicit
    ("Ab,bC->AC", [(2, 3), (3, 4)]),  # mixed case
    ("aA,Aa->", [(3, 3), (3, 3)]),  # case matters: a and A differ
    # --- labels repeated in the output (extension: values on the diagonal) ----------
    ("i->ii", [(3,)]),  # vector to diagonal matrix
    ("ij->iij", [(2, 3)]),  # diagonal embedding of one axis
    ("i,j->iij", [(2,), (3,)]),  # outer product placed on a diagonal
    ("ij,jk->iik", [(2, 3), (3, 4)]),  # matrix product placed on a diagonal
    # --- longer networks ------------------------------------------------------------
    ("ab,bc,cd,da,ac->", [(2, 3), (3, 2), (2, 3), (3, 2), (2, 2)]),  # cycle with chord
    ("ij,jk,kl,lm,mn,no->io", [(2, 2), (2, 3), (3, 2), (2, 2), (2, 3), (3, 2)]),  # chain of six
    ("ab,cd,ef,ac,bd,ce,df->", [(2, 2)] * 7),  # ladder
    ("abc,bde,cef,dfg->ag", [(2, 2, 2)] * 4),  # small network
    ("ia,ib,ic,id,ie->abcde", [(2, 2)] * 5),  # five-way hyperedge to outer product
]
